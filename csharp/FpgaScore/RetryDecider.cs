using System.Globalization;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Decides, for one logical call, whether and after how long to retry (see <see cref="RetryPolicy"/>).</summary>
internal sealed class RetryDecider(RetryPolicy policy, DateTime deadlineUtc)
{
    public const string PushbackKey = "grpc-retry-pushback-ms";

    private int _retries;

    /// <summary>Retries made so far.</summary>
    public int Retries => _retries;

    /// <summary>The sleep before the next attempt, or null when the call must give up with this error.</summary>
    public TimeSpan? NextSleep(StatusCode code, Metadata? trailers, int attemptsMade, DateTime nowUtc)
    {
        if (attemptsMade >= policy.MaxAttempts || !IsRetryable(code, trailers)) return null;
        var bound = policy.BackoffBound(_retries + 1);
        var sleep = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * bound.TotalMilliseconds);
        if (Pushback(trailers) is { } pushback && pushback > sleep) sleep = pushback;
        if (nowUtc + sleep >= deadlineUtc) return null;
        _retries++;
        return sleep;
    }

    public static bool IsRetryable(StatusCode code, Metadata? trailers) => code switch
    {
        StatusCode.Unavailable or StatusCode.Aborted => true,
        StatusCode.ResourceExhausted => Pushback(trailers) is not null,
        _ => false,
    };

    /// <summary>The server's <c>grpc-retry-pushback-ms</c>; null when absent, negative or malformed.</summary>
    public static TimeSpan? Pushback(Metadata? trailers)
    {
        var value = trailers?.GetValue(PushbackKey);
        if (value is null || !long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) || ms < 0)
            return null;
        return TimeSpan.FromMilliseconds(ms);
    }
}
