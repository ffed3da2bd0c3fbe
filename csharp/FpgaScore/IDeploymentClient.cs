namespace FpgaScore;

/// <summary>
/// What <see cref="DeploymentClient"/> offers, as an interface: code that manages services through an
/// <see cref="IDeploymentClient"/> can be tested with a fake instead of a manager. The members are documented on
/// <see cref="DeploymentClient"/>; every one fails with a <see cref="ScoringException"/>.
/// </summary>
public interface IDeploymentClient : IDisposable
{
    /// <summary>The manager's address.</summary>
    Uri Target { get; }

    /// <summary>Registers a model (a new version of its name).</summary>
    Task<Model> RegisterModelAsync(string name, string description = "", IReadOnlyDictionary<string, string>? tags = null,
        CancellationToken cancellationToken = default);

    /// <summary>A model by id (<c>name:version</c>) or name (its latest version).</summary>
    Task<Model> GetModelAsync(string modelId, CancellationToken cancellationToken = default);

    /// <summary>Every model, oldest first.</summary>
    Task<IReadOnlyList<Model>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Starts a service and returns it running, with its keys when SSL is on.</summary>
    Task<Service> CreateServiceAsync(string name, string modelId, CreateServiceOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>Swaps the certificate, turns SSL on or off, changes the model or the replicas.</summary>
    Task<Service> UpdateServiceAsync(string serviceId, UpdateServiceOptions options, CancellationToken cancellationToken = default);

    /// <summary>A service by id or name, with its replicas' status.</summary>
    Task<Service> GetServiceAsync(string serviceId, CancellationToken cancellationToken = default);

    /// <summary>Every service (of one model when <paramref name="modelId"/> is given), oldest first.</summary>
    Task<IReadOnlyList<Service>> ListServicesAsync(string? modelId = null, CancellationToken cancellationToken = default);

    /// <summary>Stops a service and removes its process or container and files.</summary>
    Task DeleteServiceAsync(string serviceId, CancellationToken cancellationToken = default);

    /// <summary>A service's two keys (SSL only).</summary>
    Task<AuthKeys> GetAuthKeysAsync(string serviceId, CancellationToken cancellationToken = default);

    /// <summary>Replaces one key with no failed call; returns both.</summary>
    Task<AuthKeys> RegenerateAuthKeysAsync(string serviceId, KeyType keyType, CancellationToken cancellationToken = default);

    /// <summary>The service as Kubernetes manifests (YAML, holding its secrets).</summary>
    Task<string> ExportKubernetesAsync(string serviceId, string? image = null, int? replicas = null,
        CancellationToken cancellationToken = default);
}
