using Grpc.Core;

namespace FpgaScore;

/// <summary>Everything a <see cref="ScoringClient"/> can be configured with.</summary>
/// <remarks>The client copies what it needs at construction; changing the options later has no effect on it.</remarks>
public sealed class ScoringClientOptions
{
    /// <summary>Server host name or address. Default <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Server port. Default 50051.</summary>
    public int Port { get; set; } = 50051;

    /// <summary>Use TLS. Default false.</summary>
    public bool UseSsl { get; set; }

    /// <summary>PEM text of the root certificates to trust instead of the system's (TLS only).</summary>
    public string? RootCertificatesPem { get; set; }

    /// <summary>Path of a PEM file of root certificates to trust instead of the system's (TLS only).</summary>
    /// <remarks>With neither this nor <see cref="RootCertificatesPem"/>, <c>GRPC_DEFAULT_SSL_ROOTS_FILE_PATH</c>
    /// (read when the client is constructed) names a file that replaces the system roots.</remarks>
    public string? RootCertificatesFile { get; set; }

    /// <summary>The name the server certificate is checked against, and the TLS SNI, instead of <see cref="Host"/>.</summary>
    public string? ServerNameOverride { get; set; }

    /// <summary>The access key sent as <c>authorization</c> on every call.</summary>
    public string? AccessToken { get; set; }

    /// <summary>A second key, tried once when a call fails <c>Unauthenticated</c> with the key in use.</summary>
    public string? SecondaryAccessToken { get; set; }

    /// <summary>How the key is written (<see cref="AuthScheme.Raw"/> by default).</summary>
    public AuthScheme AuthScheme { get; set; } = AuthScheme.Raw;

    /// <summary>Allow sending a key without TLS (otherwise the constructor throws <c>FailedPrecondition</c>).</summary>
    public bool AllowInsecureKey { get; set; }

    /// <summary>The default deadline of a call, retries and backoff included. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How failed calls are retried. Default <see cref="FpgaScore.RetryPolicy.Default"/>.</summary>
    public RetryPolicy RetryPolicy { get; set; } = RetryPolicy.Default;

    /// <summary>Extra metadata sent on every call (before the per-call headers).</summary>
    public Metadata Metadata { get; set; } = new();

    /// <summary>Name of the input tensor. Default <c>images</c>.</summary>
    public string InputName { get; set; } = "images";

    /// <summary>Name of the output tensor. Default <c>output_alias</c>.</summary>
    public string OutputName { get; set; } = "output_alias";

    /// <summary>The model name sent in <c>model_spec.name</c>. Default <c>resnet50</c>.</summary>
    public string ModelName { get; set; } = "resnet50";

    /// <summary>The signature name sent in <c>model_spec.signature_name</c>. Default <c>serving_default</c>.</summary>
    public string SignatureName { get; set; } = "serving_default";

    /// <summary>Interval of HTTP/2 keepalive pings while calls are active. Default 30 s (as every fpgascore client);
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> turns them off.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a keepalive ping may go unanswered before the connection is closed. Default 10 s.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the client logs (category <c>FpgaScore.ScoringClient</c>): a key failover and each retry at
    /// Information, every call's end at Debug, with attempt, code and request id, never a key. Also given to the
    /// gRPC channel. Default none: the client logs nothing.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Wraps the client's HTTP handler (a <see cref="System.Net.Http.SocketsHttpHandler"/> with the keepalive
    /// and TLS settings): return a <see cref="System.Net.Http.DelegatingHandler"/> around the one given, e.g. for
    /// tracing or a proxy. Default none.</summary>
    public Func<HttpMessageHandler, HttpMessageHandler>? ConfigureHttpHandler { get; set; }

    /// <summary>gRPC interceptors every call of the client goes through (each attempt, in order). Default none.</summary>
    public IList<Grpc.Core.Interceptors.Interceptor> Interceptors { get; } = new List<Grpc.Core.Interceptors.Interceptor>();

    /// <summary>The default of <see cref="MaxResponseBytes"/>: 16 MiB, the reference server's own message limit.</summary>
    public const int DefaultMaxResponseBytes = 16 * 1024 * 1024;

    /// <summary>Largest request sent to the server (a larger one fails <c>ResourceExhausted</c> before it is sent). Default 64 MiB.</summary>
    /// <remarks>Responses are limited by <see cref="MaxResponseBytes"/>.</remarks>
    public int MaxMessageSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Largest response accepted from the server, in bytes. Default <see cref="DefaultMaxResponseBytes"/> (16 MiB).</summary>
    /// <remarks>A larger response fails the call with <c>ResourceExhausted</c> (Grpc.Net.Client's "Received message exceeds
    /// the maximum configured message size."), which is not retried. Must be positive.</remarks>
    public int MaxResponseBytes { get; set; } = DefaultMaxResponseBytes;

    /// <summary>Shows the settings, never a key.</summary>
    public override string ToString() =>
        $"ScoringClientOptions(Host={Host}, Port={Port}, UseSsl={UseSsl}, ServerNameOverride={ServerNameOverride ?? "-"}, " +
        $"AccessToken={(AccessToken is null ? "none" : "<redacted>")}, SecondaryAccessToken={(SecondaryAccessToken is null ? "none" : "<redacted>")}, " +
        $"AuthScheme={AuthScheme}, Timeout={Timeout}, RetryPolicy={RetryPolicy}, ModelName={ModelName})";
}
