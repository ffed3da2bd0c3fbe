using Grpc.Core;
using Dp = FpgaScore.Conformance.V1;

namespace FpgaScore.Conformance;

/// <summary>Builds a <see cref="ScoringClient"/> from a request line's connection settings.</summary>
internal static class ClientBuilder
{
    public static ScoringClient Create(Dp.DriverRequest request)
    {
        if (string.IsNullOrEmpty(request.Host) || request.Port == 0) throw new BadRequestException("'host' and 'port' are required");
        var scheme = request.AuthScheme switch
        {
            Dp.AuthScheme.Unspecified or Dp.AuthScheme.Raw => AuthScheme.Raw,
            Dp.AuthScheme.Bearer => AuthScheme.Bearer,
            var other => throw new BadRequestException($"unknown 'auth_scheme' {other}"),
        };
        if (request.HasTimeoutMs && request.TimeoutMs <= 0) throw new BadRequestException("'timeout_ms' must be positive");
        var options = new ScoringClientOptions
        {
            Host = request.Host,
            Port = request.Port,
            UseSsl = request.UseSsl,
            RootCertificatesFile = NullIfEmpty(request.RootCertificatesFile),
            ServerNameOverride = NullIfEmpty(request.ServerNameOverride),
            AccessToken = request.HasAccessToken ? request.AccessToken : null,
            SecondaryAccessToken = request.HasSecondaryAccessToken ? request.SecondaryAccessToken : null,
            AuthScheme = scheme,
            AllowInsecureKey = request.AllowInsecureKey,
            Timeout = TimeSpan.FromMilliseconds(request.HasTimeoutMs ? request.TimeoutMs : 10_000),
            RetryPolicy = Policy(request),
            Metadata = new Metadata(), // the line's metadata goes per call (case ids differ per call)
        };
        if (request.HasModelName) options.ModelName = request.ModelName;
        if (request.HasSignatureName) options.SignatureName = request.SignatureName;
        return new ScoringClient(options);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static RetryPolicy Policy(Dp.DriverRequest request)
    {
        if (request.Retry is not { } r) return RetryPolicy.Default;
        var defaults = RetryPolicy.Default;
        return new RetryPolicy
        {
            MaxAttempts = r.HasMaxAttempts ? r.MaxAttempts : defaults.MaxAttempts,
            InitialBackoff = r.HasInitialBackoffMs ? TimeSpan.FromMilliseconds(r.InitialBackoffMs) : defaults.InitialBackoff,
            MaxBackoff = r.HasMaxBackoffMs ? TimeSpan.FromMilliseconds(r.MaxBackoffMs) : defaults.MaxBackoff,
            Multiplier = r.HasMultiplier ? r.Multiplier : defaults.Multiplier,
        };
    }
}
