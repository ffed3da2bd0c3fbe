using System.Net.Security;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore;

/// <summary>What a client's channel is built from: the part of <see cref="ScoringClientOptions"/> and
/// <see cref="DeploymentClientOptions"/> that is about the connection.</summary>
internal sealed record ChannelSettings(string Host, int Port, bool UseSsl)
{
    public string? ServerNameOverride { get; init; }
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }
    public Func<HttpMessageHandler, HttpMessageHandler>? ConfigureHttpHandler { get; init; }

    /// <summary>Whether the calls' credentials (a key, the admin token) may go over plaintext: the caller decided it is
    /// safe (AllowInsecureKey, or a loopback address), which grpc-dotnet needs said to send them.</summary>
    public bool CredentialsOverPlaintext { get; init; }

    /// <summary>Largest response accepted; null: grpc-dotnet's default (4 MiB).</summary>
    public int? MaxReceiveMessageSize { get; init; }

    /// <summary>Largest request sent; null: no limit.</summary>
    public int? MaxSendMessageSize { get; init; }

    public static ChannelSettings From(ScoringClientOptions options) => new(options.Host, options.Port, options.UseSsl)
    {
        ServerNameOverride = options.ServerNameOverride,
        KeepAliveInterval = options.KeepAliveInterval,
        KeepAliveTimeout = options.KeepAliveTimeout,
        LoggerFactory = options.LoggerFactory,
        ConfigureHttpHandler = options.ConfigureHttpHandler,
        // The key is the calls' credentials; over plaintext only when the user allowed it (AllowInsecureKey: the
        // client refuses a key without TLS otherwise).
        CredentialsOverPlaintext = options.AllowInsecureKey && !options.UseSsl,
        MaxReceiveMessageSize = options.MaxResponseBytes,
        MaxSendMessageSize = options.MaxMessageSize,
    };
}

/// <summary>Builds a client's one long-lived channel: a SocketsHttpHandler with keepalive pings and, for TLS, the certificate check.</summary>
internal static class ChannelFactory
{
    /// <summary>The certificate check of a TLS channel (null without TLS): the roots given (PEM text, else a file), else
    /// <c>GRPC_DEFAULT_SSL_ROOTS_FILE_PATH</c>'s, else the system's; the name expected is the override, else the host.</summary>
    public static CertificateValidator? Validator(ChannelSettings settings, string? rootsPem, string? rootsFile) =>
        settings.UseSsl
            ? new CertificateValidator(TlsRoots.Resolve(rootsPem, rootsFile),
                string.IsNullOrEmpty(settings.ServerNameOverride) ? settings.Host : settings.ServerNameOverride)
            : null;

    public static GrpcChannel Create(ChannelSettings options, CertificateValidator? validator)
    {
        var sockets = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = options.KeepAliveInterval,
            KeepAlivePingTimeout = options.KeepAliveTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            EnableMultipleHttp2Connections = true,
        };
        if (validator is not null)
        {
            sockets.SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = validator.ChainPolicy,
                RemoteCertificateValidationCallback = validator.Validate,
            };
        }

        HttpMessageHandler handler = sockets;
        if (options.UseSsl && !string.IsNullOrEmpty(options.ServerNameOverride))
            handler = new AuthorityHandler(options.ServerNameOverride) { InnerHandler = handler };
        if (options.ConfigureHttpHandler is not null)
            handler = options.ConfigureHttpHandler(handler)
                ?? throw new ScoringException(StatusCode.InvalidArgument, "ConfigureHttpHandler returned null");
        handler = new UserAgentHandler { InnerHandler = handler }; // outermost: a wrapper sees the User-Agent sent

        return GrpcChannel.ForAddress(Address(options), new GrpcChannelOptions
        {
            HttpHandler = handler,
            LoggerFactory = options.LoggerFactory,
            UnsafeUseInsecureChannelCallCredentials = options.CredentialsOverPlaintext && !options.UseSsl,
            DisposeHttpClient = true,
            Credentials = options.UseSsl ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure,
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            MaxSendMessageSize = options.MaxSendMessageSize,
        });
    }

    public static Uri Address(ChannelSettings options) =>
        new UriBuilder(options.UseSsl ? "https" : "http", options.Host, options.Port).Uri;

    /// <summary>
    /// Sends the server-name override as the request's Host (HTTP/2 <c>:authority</c>), which SocketsHttpHandler
    /// also uses as the TLS SNI; the certificate's name is checked against it by <see cref="CertificateValidator"/>.
    /// </summary>
    private sealed class AuthorityHandler(string authority) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Host = authority;
            return base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>Puts the client's name and version first in the <c>User-Agent</c> of every call, as the Python and Go
/// clients do (<c>fpgascore-csharp/0.1.0 grpc-dotnet/…</c>).</summary>
internal sealed class UserAgentHandler : DelegatingHandler
{
    /// <summary>The client's product token, e.g. <c>fpgascore-csharp/0.1.0</c>.</summary>
    public static readonly string Product = "fpgascore-csharp/" + Version();

    private const string Header = "User-Agent";

    // The last header value seen and the one sent for it: grpc-dotnet sends the same one on every call, so the
    // combined value is made once (one reference read and compare a call), not parsed and joined every time. One
    // immutable object, replaced whole: concurrent calls never see half of an update.
    private volatile Combined _last = new("", Product);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The raw value as it was added (NonValidated: no parsing of the product tokens on every call).
        var others = request.Headers.NonValidated.TryGetValues(Header, out var values) ? values.ToString() : "";
        var last = _last;
        if (!string.Equals(last.Seen, others, StringComparison.Ordinal))
            _last = last = new Combined(others, string.IsNullOrEmpty(others) ? Product : $"{Product} {others}");
        request.Headers.Remove(Header);
        request.Headers.TryAddWithoutValidation(Header, last.Sent);
        return base.SendAsync(request, cancellationToken);
    }

    private sealed record Combined(string Seen, string Sent);

    private static string Version()
    {
        var informational = typeof(UserAgentHandler).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return (informational ?? typeof(UserAgentHandler).Assembly.GetName().Version?.ToString() ?? "0").Split('+')[0];
    }
}
