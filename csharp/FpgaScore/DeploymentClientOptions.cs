namespace FpgaScore;

/// <summary>Everything a <see cref="DeploymentClient"/> can be configured with.</summary>
/// <remarks>The client copies what it needs at construction; changing the options later has no effect on it.</remarks>
public sealed class DeploymentClientOptions
{
    /// <summary>The environment variable the admin token is read from when <see cref="AdminToken"/> is null
    /// (as the Python and Go clients read it).</summary>
    public const string AdminTokenEnvironmentVariable = "FPGASCORE_ADMIN_TOKEN";

    /// <summary>The manager's default address (<c>scripts/run-emulator manage</c> binds 127.0.0.1:50055).</summary>
    public const string DefaultAddress = "127.0.0.1:50055";

    /// <summary>The manager's address, <c>host:port</c> (<c>[::1]:port</c> for IPv6). Default <see cref="DefaultAddress"/>.</summary>
    public string Address { get; set; } = DefaultAddress;

    /// <summary>The manager's admin token, sent as <c>authorization</c> on every call. Null: read from
    /// <see cref="AdminTokenEnvironmentVariable"/> when the client is constructed (neither: the constructor throws).</summary>
    public string? AdminToken { get; set; }

    /// <summary>TLS to the manager (its <c>--tls-cert</c>). Default false.</summary>
    public bool UseSsl { get; set; }

    /// <summary>PEM text of the root certificates to trust instead of the system's (TLS only).</summary>
    public string? RootCertificatesPem { get; set; }

    /// <summary>Path of a PEM file of root certificates to trust instead of the system's (TLS only); with neither,
    /// <c>GRPC_DEFAULT_SSL_ROOTS_FILE_PATH</c> as for <see cref="ScoringClientOptions.RootCertificatesFile"/>.</summary>
    public string? RootCertificatesFile { get; set; }

    /// <summary>The name the manager's certificate is checked against, and the TLS SNI, instead of the address's host.</summary>
    public string? ServerNameOverride { get; set; }

    /// <summary>Allow sending the admin token over plaintext to an address that is not loopback (otherwise the
    /// constructor throws <c>FailedPrecondition</c>). Over plaintext to 127.0.0.1, ::1 or localhost it is always sent.</summary>
    public bool AllowInsecureKey { get; set; }

    /// <summary>The deadline of each call. Default 120 s: a create waits until the service serves (a container
    /// start on a busy machine).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Where the client logs (category <c>FpgaScore.DeploymentClient</c>): every call's end at Debug with its
    /// method and code, never a key or the token. Also given to the gRPC channel. Default none.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Wraps the client's HTTP handler, as <see cref="ScoringClientOptions.ConfigureHttpHandler"/>. Default none.</summary>
    public Func<HttpMessageHandler, HttpMessageHandler>? ConfigureHttpHandler { get; set; }

    /// <summary>Shows the settings, never the token.</summary>
    public override string ToString() =>
        $"DeploymentClientOptions(Address={Address}, UseSsl={UseSsl}, ServerNameOverride={ServerNameOverride ?? "-"}, " +
        $"AdminToken={(AdminToken is null ? "from " + AdminTokenEnvironmentVariable : "<redacted>")}, Timeout={Timeout})";
}
