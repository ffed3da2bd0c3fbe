using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>The retry policy's arithmetic: bounds, retryable codes, pushback, the deadline.</summary>
public class RetryPolicyTests
{
    [Fact]
    public void DefaultsAreTheSpecs()
    {
        var policy = RetryPolicy.Default;
        Assert.Equal(4, policy.MaxAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(100), policy.InitialBackoff);
        Assert.Equal(TimeSpan.FromSeconds(2), policy.MaxBackoff);
        Assert.Equal(2.0, policy.Multiplier);
        Assert.Equal(1, RetryPolicy.NoRetries.MaxAttempts);
    }

    [Fact]
    public void BoundsGrowAndAreCapped()
    {
        var policy = RetryPolicy.Default;
        Assert.Equal(100, policy.BackoffBound(1).TotalMilliseconds, 6);
        Assert.Equal(200, policy.BackoffBound(2).TotalMilliseconds, 6);
        Assert.Equal(400, policy.BackoffBound(3).TotalMilliseconds, 6);
        Assert.Equal(2000, policy.BackoffBound(6).TotalMilliseconds, 6);
        Assert.Equal(2000, policy.BackoffBound(1000).TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.Aborted, true)]
    [InlineData(StatusCode.ResourceExhausted, false)]
    [InlineData(StatusCode.InvalidArgument, false)]
    [InlineData(StatusCode.Unauthenticated, false)]
    [InlineData(StatusCode.PermissionDenied, false)]
    [InlineData(StatusCode.DeadlineExceeded, false)]
    [InlineData(StatusCode.FailedPrecondition, false)]
    [InlineData(StatusCode.Internal, false)]
    public void RetryableCodes(StatusCode code, bool retryable) =>
        Assert.Equal(retryable, RetryDecider.IsRetryable(code, new Metadata()));

    [Theory]
    [InlineData("0", true)]
    [InlineData("250", true)]
    [InlineData("-1", false)]
    [InlineData("soon", false)]
    public void ResourceExhaustedOnlyWithPushback(string pushback, bool retryable) =>
        Assert.Equal(retryable, RetryDecider.IsRetryable(StatusCode.ResourceExhausted, new Metadata { { "grpc-retry-pushback-ms", pushback } }));

    [Fact]
    public void SleepsAreFullJitterWithinTheBound()
    {
        var now = DateTime.UtcNow;
        for (int i = 0; i < 200; i++)
        {
            var decider = new RetryDecider(RetryPolicy.Default, now.AddHours(1));
            var first = decider.NextSleep(StatusCode.Unavailable, null, 1, now)!.Value;
            var second = decider.NextSleep(StatusCode.Unavailable, null, 2, now)!.Value;
            Assert.InRange(first.TotalMilliseconds, 0, 100);
            Assert.InRange(second.TotalMilliseconds, 0, 200);
            Assert.Equal(2, decider.Retries);
        }
    }

    [Fact]
    public void PushbackWinsWhenLarger()
    {
        var now = DateTime.UtcNow;
        var decider = new RetryDecider(RetryPolicy.Default, now.AddHours(1));
        var sleep = decider.NextSleep(StatusCode.ResourceExhausted, new Metadata { { "grpc-retry-pushback-ms", "1500" } }, 1, now);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), sleep);
    }

    [Fact]
    public void NoRetryPastMaxAttemptsOrTheDeadline()
    {
        var now = DateTime.UtcNow;
        Assert.Null(new RetryDecider(RetryPolicy.Default, now.AddHours(1)).NextSleep(StatusCode.Unavailable, null, 4, now));
        Assert.Null(new RetryDecider(RetryPolicy.NoRetries, now.AddHours(1)).NextSleep(StatusCode.Unavailable, null, 1, now));
        var pushback = new Metadata { { "grpc-retry-pushback-ms", "5000" } };
        Assert.Null(new RetryDecider(RetryPolicy.Default, now.AddSeconds(1)).NextSleep(StatusCode.ResourceExhausted, pushback, 1, now));
    }

    [Fact]
    public void InvalidPoliciesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new RetryPolicy { MaxAttempts = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new RetryPolicy { Multiplier = 0.5 }.Validate());
        Assert.Throws<ArgumentException>(() => new RetryPolicy { MaxBackoff = TimeSpan.FromMilliseconds(10) }.Validate());
    }
}
