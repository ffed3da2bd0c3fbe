using Grpc.Core;

namespace FpgaScore.Conformance;

/// <summary>Builds a <see cref="ScoringClient"/> from a request line's connection settings.</summary>
internal static class ClientBuilder
{
    public static ScoringClient Create(DriverRequest request)
    {
        var host = request.String("host");
        var port = request.Integer("port");
        if (string.IsNullOrEmpty(host) || port is null) throw new BadRequestException("'host' and 'port' are required");
        var scheme = (request.String("auth_scheme") ?? "raw").ToLowerInvariant() switch
        {
            "raw" => AuthScheme.Raw,
            "bearer" => AuthScheme.Bearer,
            var other => throw new BadRequestException($"'auth_scheme' must be raw or bearer, not {other}"),
        };
        var options = new ScoringClientOptions
        {
            Host = host,
            Port = checked((int)port.Value),
            UseSsl = request.Flag("use_ssl"),
            RootCertificatesFile = request.String("root_certificates_file"),
            ServerNameOverride = request.String("server_name_override"),
            AccessToken = request.String("access_token"),
            SecondaryAccessToken = request.String("secondary_access_token"),
            AuthScheme = scheme,
            AllowInsecureKey = request.Flag("allow_insecure_key"),
            Timeout = TimeSpan.FromMilliseconds(request.Number("timeout_ms") ?? 10_000),
            RetryPolicy = Policy(request),
            Metadata = new Metadata(), // the line's metadata goes per call (case ids differ per call)
        };
        if (request.String("model_name") is { } model) options.ModelName = model;
        if (request.String("signature_name") is { } signature) options.SignatureName = signature;
        return new ScoringClient(options);
    }

    private static RetryPolicy Policy(DriverRequest request)
    {
        var retry = request.Object("retry");
        if (retry is null) return RetryPolicy.Default;
        var r = new DriverRequest(retry.Value);
        var defaults = RetryPolicy.Default;
        return new RetryPolicy
        {
            MaxAttempts = checked((int)(r.Integer("max_attempts") ?? defaults.MaxAttempts)),
            InitialBackoff = TimeSpan.FromMilliseconds(r.Number("initial_backoff_ms") ?? defaults.InitialBackoff.TotalMilliseconds),
            MaxBackoff = TimeSpan.FromMilliseconds(r.Number("max_backoff_ms") ?? defaults.MaxBackoff.TotalMilliseconds),
            Multiplier = r.Number("multiplier") ?? defaults.Multiplier,
        };
    }
}
