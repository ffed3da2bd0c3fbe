namespace FpgaScore;

/// <summary>
/// How failed calls are retried (the same policy in every fpgascore client).
/// </summary>
/// <remarks>
/// Retried: <c>Unavailable</c>, <c>Aborted</c>, and <c>ResourceExhausted</c> only when the server sent
/// <c>grpc-retry-pushback-ms</c> &gt;= 0. Before retry n (1, 2, ...) the client sleeps a uniformly random
/// time in [0, min(<see cref="MaxBackoff"/>, <see cref="InitialBackoff"/> × <see cref="Multiplier"/>^(n-1))]
/// ("full jitter"), or the server's pushback when that is larger. A retry whose sleep would end after the
/// call's deadline is not made. <see cref="MaxAttempts"/> = 1 disables retries.
/// </remarks>
public sealed record RetryPolicy
{
    /// <summary>The default policy: 4 attempts, 0.1 s initial backoff, ×2, at most 2 s.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>A policy that never retries (<see cref="MaxAttempts"/> 1): Python's <c>RetryPolicy.no_retries()</c>, Go's
    /// <c>NoRetries()</c>.</summary>
    public static RetryPolicy NoRetries { get; } = new() { MaxAttempts = 1 };

    /// <summary>The same as <see cref="NoRetries"/> (its earlier name).</summary>
    public static RetryPolicy Disabled => NoRetries;

    /// <summary>Attempts in all, the first one included (&gt;= 1). Default 4.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>Upper bound of the first sleep (&gt; 0). Default 100 ms.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Cap of the sleep's upper bound (&gt;= <see cref="InitialBackoff"/>). Default 2 s.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Growth of the upper bound per retry (&gt;= 1). Default 2.</summary>
    public double Multiplier { get; init; } = 2.0;

    /// <summary>The upper bound of the sleep before retry <paramref name="retry"/> (1-based).</summary>
    public TimeSpan BackoffBound(int retry)
    {
        if (retry < 1) throw new ArgumentOutOfRangeException(nameof(retry), "retry numbers start at 1");
        double bound = InitialBackoff.TotalMilliseconds;
        double max = MaxBackoff.TotalMilliseconds;
        for (int i = 1; i < retry && bound < max; i++) bound *= Multiplier;
        return TimeSpan.FromMilliseconds(Math.Min(bound, max));
    }

    /// <summary>Throws <see cref="ArgumentException"/> when a value is out of range.</summary>
    public void Validate()
    {
        if (MaxAttempts < 1) throw new ArgumentException($"MaxAttempts must be >= 1, not {MaxAttempts}");
        if (InitialBackoff <= TimeSpan.Zero) throw new ArgumentException("InitialBackoff must be > 0");
        if (MaxBackoff < InitialBackoff) throw new ArgumentException("MaxBackoff must be >= InitialBackoff");
        if (!(Multiplier >= 1)) throw new ArgumentException($"Multiplier must be >= 1, not {Multiplier}");
    }
}
