using System.Diagnostics;
using FpgaScore.Tests.Infrastructure;
using Grpc.Core;

namespace FpgaScore.Tests;

/// <summary>Retries against failures the reference server injects (x-conformance-fail).</summary>
public class RetryTests
{
    private static Task<ScoringResult<float[]>> ScoreAsync(ScoringClient client, string caseId, string? fail, DateTime? deadline = null) =>
        client.ScoreWithDetailsAsync<float[]>(new ImageRequest(Clients.ImageBytes()),
            fail is null ? Clients.Case(caseId) : Clients.Case(caseId, ("x-conformance-fail", fail)), deadline);

    [Theory]
    [InlineData("2:UNAVAILABLE", 3)]
    [InlineData("1:ABORTED", 2)]
    [InlineData("3:UNAVAILABLE", 4)]
    [InlineData("1:RESOURCE_EXHAUSTED", 2)] // the server sends grpc-retry-pushback-ms: 0
    public async Task RetriedCodesSucceedAfterInjectedFailures(string fail, int attempts)
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("retry-ok");
        var result = await ScoreAsync(client, caseId, fail);
        Assert.Equal(attempts, result.Attempts);
        Assert.Matches("^[0-9a-f]{32}$", result.RequestId);
        // the last attempt's trailers: its request id, and the server's echo of the attempt number
        Assert.Equal(result.RequestId, result.Trailers.GetValue("request-id"));
        Assert.Equal(attempts.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Trailers.GetValue("x-conformance-attempt"));
        Assert.Equal(attempts, (await server.CallsAsync(caseId, attempts)).Count);
    }

    [Fact]
    public async Task GivesUpAfterMaxAttempts()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("retry-exhausted");
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, caseId, "9:UNAVAILABLE"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("injected failure (attempt 4", error.Message);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        Assert.Equal("4", error.Trailers.GetValue("x-conformance-attempt"));
        await Task.Delay(300);
        Assert.Equal(4, server.Calls(caseId).Count);
    }

    [Theory]
    [InlineData("1:INVALID_ARGUMENT", StatusCode.InvalidArgument)]
    [InlineData("1:INTERNAL", StatusCode.Internal)]
    [InlineData("1:PERMISSION_DENIED", StatusCode.PermissionDenied)]
    [InlineData("1:FAILED_PRECONDITION", StatusCode.FailedPrecondition)]
    [InlineData("1:DEADLINE_EXCEEDED", StatusCode.DeadlineExceeded)]
    [InlineData("1:UNAUTHENTICATED", StatusCode.Unauthenticated)]
    public async Task OtherCodesAreNotRetried(string fail, StatusCode code)
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server);
        var caseId = Clients.NewCase("no-retry");
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, caseId, fail));
        Assert.Equal(code, error.StatusCode);
        Assert.Matches("^[0-9a-f]{32}$", error.RequestId);
        await Task.Delay(300);
        Assert.Single(server.Calls(caseId));
    }

    [Fact]
    public async Task MaxAttemptsOneDisablesRetries()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.RetryPolicy = RetryPolicy.NoRetries);
        var caseId = Clients.NewCase("retry-disabled");
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, caseId, "1:UNAVAILABLE"));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        await Task.Delay(300);
        Assert.Single(server.Calls(caseId));
    }

    [Fact]
    public async Task TheDeadlineBoundsRetriesAndBackoff()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o =>
        {
            o.RetryPolicy = new RetryPolicy { MaxAttempts = 10, InitialBackoff = TimeSpan.FromSeconds(2), MaxBackoff = TimeSpan.FromSeconds(2), Multiplier = 1 };
            o.Timeout = TimeSpan.FromMilliseconds(1500);
        });
        var caseId = Clients.NewCase("retry-deadline");
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, caseId, "20:UNAVAILABLE"));
        watch.Stop();
        Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded, error.Message);
        // Jittered sleeps in [0, 2 s]: as many attempts as fit, but no sleep may end past the 1.5 s deadline.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        Assert.InRange(server.Calls(caseId).Count, 1, 10);
    }

    [Fact]
    public async Task ABackoffSleepPastTheDeadlineIsNotMade()
    {
        var server = await Servers.GetAsync(ServerKind.Plain);
        using var client = Clients.For(server, o => o.RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 4,
            InitialBackoff = TimeSpan.FromSeconds(5),
            MaxBackoff = TimeSpan.FromSeconds(5),
            Multiplier = 1,
        });
        // The server's pushback (0) is smaller than the jittered sleep, so sleeps up to 5 s; a 300 ms deadline
        // makes almost every such retry impossible: the last error comes back at once.
        var caseId = Clients.NewCase("retry-past-deadline");
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ScoringException>(() => ScoreAsync(client, caseId, "20:UNAVAILABLE", DateTime.UtcNow.AddMilliseconds(300)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2.5), $"took {watch.Elapsed}");
        Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded);
    }
}
