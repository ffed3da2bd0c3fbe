using System.Net.Security;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore;

/// <summary>Builds the client's one long-lived channel: a SocketsHttpHandler with keepalive pings and, for TLS, the certificate check.</summary>
internal static class ChannelFactory
{
    public static GrpcChannel Create(ScoringClientOptions options, CertificateValidator? validator)
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
            // The key is the calls' credentials; over plaintext only when the user allowed it (AllowInsecureKey: the
            // client refuses a key without TLS otherwise), which grpc-dotnet needs said to send them.
            UnsafeUseInsecureChannelCallCredentials = options.AllowInsecureKey && !options.UseSsl,
            DisposeHttpClient = true,
            Credentials = options.UseSsl ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure,
            MaxReceiveMessageSize = options.MaxResponseBytes,
            MaxSendMessageSize = options.MaxMessageSize,
        });
    }

    public static Uri Address(ScoringClientOptions options) =>
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
