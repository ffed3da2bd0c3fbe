using System.Net;
using Grpc.Core;
using Grpc.Net.Client;

namespace FpgaScore;

/// <summary>
/// Client of the deployment API (<c>DeploymentService</c>, served by the manager, <c>scripts/run-emulator manage</c>):
/// registers models and runs them as scoring services with TLS and access keys. One long-lived channel; thread-safe;
/// dispose it at the end.
/// </summary>
/// <remarks>
/// Every call sends the admin token as <c>authorization</c>: over TLS, or over plaintext only to a loopback address
/// (the manager binds 127.0.0.1 by default) unless <see cref="DeploymentClientOptions.AllowInsecureKey"/>. Errors are
/// <see cref="ScoringException"/>s with the manager's code (<c>NotFound</c>, <c>AlreadyExists</c>,
/// <c>InvalidArgument</c> naming the problem, <c>Unauthenticated</c> for a wrong token, ...); no error, log line or
/// <see cref="ToString"/> holds the token or a key.
/// </remarks>
/// <example>
/// <code>
/// using var deployments = new DeploymentClient("127.0.0.1:50055", adminToken);
/// await deployments.RegisterModelAsync("resnet50");
/// Service service = await deployments.CreateServiceAsync("my-service", "resnet50",
///     new CreateServiceOptions { SslEnabled = true, SslCertificate = "cert.pem", SslKey = "key.pem" });
/// using var scoring = new ScoringClient(service.IpAddress, service.Port, true, service.PrimaryKey);
/// </code>
/// </example>
public sealed class DeploymentClient : IDeploymentClient
{
    private readonly GrpcChannel _channel;
    private readonly V1.DeploymentService.DeploymentServiceClient _stub;
    private readonly KeyRing _token;
    private readonly CertificateValidator? _validator;
    private readonly bool _useSsl;
    private readonly TimeSpan _timeout;
    private readonly Microsoft.Extensions.Logging.ILogger _log;
    private int _disposed;

    /// <summary>A client of the manager at <paramref name="address"/> (<c>host:port</c>) over plaintext (loopback only),
    /// with <paramref name="adminToken"/> (null: from <c>FPGASCORE_ADMIN_TOKEN</c>).</summary>
    /// <exception cref="ScoringException"><c>InvalidArgument</c> for a bad address or no token; <c>FailedPrecondition</c>
    /// for a plaintext address that is not loopback.</exception>
    public DeploymentClient(string address, string? adminToken = null)
        : this(new DeploymentClientOptions { Address = address, AdminToken = adminToken })
    {
    }

    /// <summary>A client with every option (see <see cref="DeploymentClientOptions"/>).</summary>
    /// <exception cref="ScoringException"><c>InvalidArgument</c> for a bad setting or no token; <c>FailedPrecondition</c>
    /// for the token over plaintext to an address that is not loopback (unless <see cref="DeploymentClientOptions.AllowInsecureKey"/>).</exception>
    public DeploymentClient(DeploymentClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (host, port) = SplitAddress(options.Address);
        var token = options.AdminToken ?? Environment.GetEnvironmentVariable(DeploymentClientOptions.AdminTokenEnvironmentVariable)
            ?? throw new ScoringException(StatusCode.InvalidArgument,
                $"AdminToken is required (the manager's --admin-token-file), or set {DeploymentClientOptions.AdminTokenEnvironmentVariable}");
        _token = new KeyRing(token, null, AuthScheme.Raw, "AdminToken");
        if (options.Timeout <= TimeSpan.Zero)
            throw new ScoringException(StatusCode.InvalidArgument, $"Timeout must be > 0, not {options.Timeout}");
        if (!options.UseSsl && (options.RootCertificatesPem ?? options.RootCertificatesFile ?? options.ServerNameOverride) is not null)
            throw new ScoringException(StatusCode.InvalidArgument,
                "RootCertificatesPem, RootCertificatesFile and ServerNameOverride only apply with TLS: set UseSsl, or leave them unset");
        var loopback = IsLoopback(host);
        if (!options.UseSsl && !loopback && !options.AllowInsecureKey)
            throw new ScoringException(StatusCode.FailedPrecondition,
                $"refusing to send the admin token over plaintext to {host} (not a loopback address): set UseSsl = true " +
                "(the manager's --tls-cert), or AllowInsecureKey = true for a trusted network");

        var settings = new ChannelSettings(host, port, options.UseSsl)
        {
            ServerNameOverride = options.ServerNameOverride,
            LoggerFactory = options.LoggerFactory,
            ConfigureHttpHandler = options.ConfigureHttpHandler,
            CredentialsOverPlaintext = !options.UseSsl && (loopback || options.AllowInsecureKey),
        };
        _useSsl = options.UseSsl;
        _timeout = options.Timeout;
        _validator = ChannelFactory.Validator(settings, options.RootCertificatesPem, options.RootCertificatesFile);
        Target = ChannelFactory.Address(settings);
        _channel = ChannelFactory.Create(settings, _validator);
        _stub = new V1.DeploymentService.DeploymentServiceClient(_channel);
        _log = options.LoggerFactory?.CreateLogger(ClientLog.DeploymentCategory)
            ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The manager's address, e.g. <c>http://127.0.0.1:50055/</c>.</summary>
    public Uri Target { get; }

    /// <summary>Registers <paramref name="name"/> (a new version of it when it exists): a <see cref="Model"/> with id <c>name:version</c>.</summary>
    /// <exception cref="ScoringException"><c>InvalidArgument</c> for a bad name.</exception>
    public async Task<Model> RegisterModelAsync(string name, string description = "", IReadOnlyDictionary<string, string>? tags = null,
        CancellationToken cancellationToken = default)
    {
        var request = new V1.RegisterModelRequest { Name = name ?? "", Description = description ?? "" };
        if (tags is not null) request.Tags.Add(tags.ToDictionary(t => t.Key, t => t.Value));
        var response = await CallAsync("RegisterModel", _stub.RegisterModelAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToModel(response.Model);
    }

    /// <summary>A model by id (<c>name:version</c>) or name (its latest version).</summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such model.</exception>
    public async Task<Model> GetModelAsync(string modelId, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("GetModel", _stub.GetModelAsync, new V1.GetModelRequest { ModelId = modelId ?? "" }, cancellationToken)
            .ConfigureAwait(false);
        return DeploymentMessages.ToModel(response.Model);
    }

    /// <summary>Every registered model, oldest first.</summary>
    public async Task<IReadOnlyList<Model>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListModels", _stub.ListModelsAsync, new V1.ListModelsRequest(), cancellationToken).ConfigureAwait(false);
        return response.Models.Select(DeploymentMessages.ToModel).ToArray();
    }

    /// <summary>
    /// Starts a service serving <paramref name="modelId"/> (a model's id, or a name: its latest version) and returns it
    /// running, with its keys (<see cref="Service.PrimaryKey"/>, <see cref="Service.SecondaryKey"/>) when SSL is on:
    /// generated unless given. Certificate and key are PEM text or the paths of PEM files.
    /// </summary>
    /// <exception cref="ScoringException"><c>AlreadyExists</c> for a name in use; <c>InvalidArgument</c> for a bad name,
    /// PEM or combination (naming it); <c>NotFound</c> for no such model; <c>Unavailable</c> when it could not start.</exception>
    public async Task<Service> CreateServiceAsync(string name, string modelId, CreateServiceOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new CreateServiceOptions();
        var request = new V1.CreateServiceRequest
        {
            Name = name ?? "",
            ModelId = modelId ?? "",
            SslEnabled = options.SslEnabled,
            SslCertificate = DeploymentMessages.Pem(options.SslCertificate, nameof(options.SslCertificate)),
            SslKey = DeploymentMessages.Pem(options.SslKey, nameof(options.SslKey)),
            PrimaryKey = options.PrimaryKey ?? "",
            SecondaryKey = options.SecondaryKey ?? "",
            NumReplicas = options.NumReplicas,
        };
        var response = await CallAsync("CreateService", _stub.CreateServiceAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToService(response.Service, response.Keys);
    }

    /// <summary>
    /// A new certificate (swapped in by reload, same port, keys unchanged), SSL on or off, another model (a restart on the
    /// same port) or another number of replicas. Turning SSL on returns the new keys on the service.
    /// </summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such service; <c>InvalidArgument</c> for a bad PEM or
    /// combination; <c>Unimplemented</c> for what the manager cannot do yet.</exception>
    public async Task<Service> UpdateServiceAsync(string serviceId, UpdateServiceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var request = new V1.UpdateServiceRequest
        {
            ServiceId = DeploymentMessages.ServiceId(serviceId),
            SslCertificate = DeploymentMessages.Pem(options.SslCertificate, nameof(options.SslCertificate)),
            SslKey = DeploymentMessages.Pem(options.SslKey, nameof(options.SslKey)),
            ModelId = options.ModelId ?? "",
        };
        if (options.SslEnabled is { } ssl) request.SslEnabled = ssl;
        if (options.NumReplicas is { } replicas) request.NumReplicas = replicas;
        var response = await CallAsync("UpdateService", _stub.UpdateServiceAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToService(response.Service, response.Keys);
    }

    /// <summary>A service by id or name, with each replica's status.</summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such service.</exception>
    public async Task<Service> GetServiceAsync(string serviceId, CancellationToken cancellationToken = default)
    {
        var request = new V1.GetServiceRequest { ServiceId = DeploymentMessages.ServiceId(serviceId) };
        var response = await CallAsync("GetService", _stub.GetServiceAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToService(response.Service);
    }

    /// <summary>Every service, or those of <paramref name="modelId"/>, oldest first (without replica statuses).</summary>
    public async Task<IReadOnlyList<Service>> ListServicesAsync(string? modelId = null, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListServices", _stub.ListServicesAsync, new V1.ListServicesRequest { ModelId = modelId ?? "" },
            cancellationToken).ConfigureAwait(false);
        return response.Services.Select(s => DeploymentMessages.ToService(s)).ToArray();
    }

    /// <summary>Stops a service and removes its process or container and its files.</summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such service.</exception>
    public async Task DeleteServiceAsync(string serviceId, CancellationToken cancellationToken = default)
    {
        var request = new V1.DeleteServiceRequest { ServiceId = DeploymentMessages.ServiceId(serviceId) };
        await CallAsync("DeleteService", _stub.DeleteServiceAsync, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A service's two keys.</summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such service; <c>FailedPrecondition</c> for a service without SSL.</exception>
    public async Task<AuthKeys> GetAuthKeysAsync(string serviceId, CancellationToken cancellationToken = default)
    {
        var request = new V1.GetAuthKeysRequest { ServiceId = DeploymentMessages.ServiceId(serviceId) };
        var response = await CallAsync("GetAuthKeys", _stub.GetAuthKeysAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToKeys(response.Keys, "GetAuthKeys");
    }

    /// <summary>Replaces one key and returns both. The other key works throughout; the old one is refused once this returns.</summary>
    /// <exception cref="ScoringException"><c>NotFound</c> for no such service; <c>FailedPrecondition</c> for a service without SSL.</exception>
    public async Task<AuthKeys> RegenerateAuthKeysAsync(string serviceId, KeyType keyType, CancellationToken cancellationToken = default)
    {
        var request = new V1.RegenerateAuthKeysRequest
        {
            ServiceId = DeploymentMessages.ServiceId(serviceId),
            KeyType = DeploymentMessages.ToKeyType(keyType),
        };
        var response = await CallAsync("RegenerateAuthKeys", _stub.RegenerateAuthKeysAsync, request, cancellationToken).ConfigureAwait(false);
        return DeploymentMessages.ToKeys(response.Keys, "RegenerateAuthKeys");
    }

    /// <summary>
    /// The service as Kubernetes manifests (YAML: a Secret with its certificate, private key and keys, a Deployment, a
    /// Service). <paramref name="image"/>: the server image (default the manager's); <paramref name="replicas"/>: the
    /// Deployment's (default the service's). The text holds secrets: write it to a private file, never to a log.
    /// </summary>
    public async Task<string> ExportKubernetesAsync(string serviceId, string? image = null, int? replicas = null,
        CancellationToken cancellationToken = default)
    {
        var request = new V1.ExportServiceRequest
        {
            ServiceId = DeploymentMessages.ServiceId(serviceId),
            Format = V1.ExportServiceRequest.Types.Format.Kubernetes,
            Image = image ?? "",
            Replicas = replicas ?? 0,
        };
        var response = await CallAsync("ExportService", _stub.ExportServiceAsync, request, cancellationToken).ConfigureAwait(false);
        return response.Manifests;
    }

    /// <summary>Closes the channel. Calls in flight are cancelled.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _channel.Dispose();
    }

    /// <summary>The target and settings, never the token.</summary>
    public override string ToString() => $"DeploymentClient({Target}, token=<redacted>, timeout={_timeout})";

    /// <summary>One call: the token as the call's credentials, the client's deadline, errors as <see cref="ScoringException"/>.</summary>
    private async Task<TResponse> CallAsync<TRequest, TResponse>(string method, Func<TRequest, CallOptions, AsyncUnaryCall<TResponse>> stubMethod,
        TRequest request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (cancellationToken.IsCancellationRequested) throw ErrorMapper.Cancelled();
        var failuresBefore = _validator?.Failures ?? 0;
        using var call = stubMethod(request, new CallOptions(deadline: DateTime.UtcNow + _timeout, cancellationToken: cancellationToken,
            credentials: _token.Credentials(0)));
        try
        {
            var response = await call.ResponseAsync.ConfigureAwait(false);
            ClientLog.DeploymentEnded(_log, method, Target, StatusCode.OK, ErrorMapper.RequestId(await call.ResponseHeadersAsync.ConfigureAwait(false), call.GetTrailers()));
            return response;
        }
        catch (RpcException error)
        {
            var headers = call.ResponseHeadersAsync;
            var requestId = ErrorMapper.RequestId(headers.IsCompletedSuccessfully ? headers.Result : null, error.Trailers);
            var failure = error.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested
                ? ErrorMapper.Cancelled()
                : ErrorMapper.FromRpc(error, requestId, _token, _validator, failuresBefore, useSsl: _useSsl, deadline: _timeout,
                    deadlineSetting: "DeploymentClientOptions.Timeout");
            ClientLog.DeploymentEnded(_log, method, Target, failure.StatusCode, requestId);
            throw failure;
        }
    }

    /// <summary><c>host:port</c>, <c>[v6]:port</c>.</summary>
    private static (string Host, int Port) SplitAddress(string? address)
    {
        var colon = (address ?? "").LastIndexOf(':');
        var host = colon > 0 ? address![..colon].Trim('[', ']') : "";
        if (colon <= 0 || host.Length == 0 || !int.TryParse(address![(colon + 1)..], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new ScoringException(StatusCode.InvalidArgument, $"Address must be 'host:port' (port 1..65535), not '{address}'");
        return (host, port);
    }

    /// <summary>Whether the admin token may go over plaintext to <paramref name="host"/> (as the Python client decides).</summary>
    internal static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
}
