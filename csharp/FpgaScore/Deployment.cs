namespace FpgaScore;

/// <summary>A service's state (<see cref="Service.State"/>).</summary>
public enum ServiceState
{
    /// <summary>A state this client does not know (a newer manager's).</summary>
    Unknown = 0,

    /// <summary>Being started (a create, or a restart by an update or the manager).</summary>
    Creating = 1,

    /// <summary>Serving on <see cref="Service.Address"/> (the manager checked its process or container).</summary>
    Running = 2,

    /// <summary>Not serving: it did not start, or it died and could not be restarted (<see cref="Service.StateMessage"/> says why).</summary>
    Failed = 3,

    /// <summary>Being deleted.</summary>
    Deleting = 4,
}

/// <summary>One server's health (<see cref="ReplicaStatus.Health"/>).</summary>
public enum ReplicaHealth
{
    /// <summary>Its metrics could not be read (<see cref="ReplicaStatus.HealthMessage"/> says why), or a newer manager's value.</summary>
    Unknown = 0,

    /// <summary>The server takes calls.</summary>
    Serving = 1,

    /// <summary>The server is draining, or its process or container is not running.</summary>
    NotServing = 2,
}

/// <summary>Which of a service's two keys <see cref="IDeploymentClient.RegenerateAuthKeysAsync"/> replaces.</summary>
public enum KeyType
{
    /// <summary>The primary key.</summary>
    Primary = 1,

    /// <summary>The secondary key.</summary>
    Secondary = 2,
}

/// <summary>A registered model; <see cref="Id"/> is <c>name:version</c>, e.g. <c>resnet50:1</c>.</summary>
public sealed record Model
{
    /// <summary><c>name:version</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The name a service's scoring calls send as <c>model_spec.name</c>.</summary>
    public required string Name { get; init; }

    /// <summary>1 for the first registration of <see cref="Name"/>, one more for each later one.</summary>
    public long Version { get; init; }

    /// <summary>The description given when it was registered.</summary>
    public string Description { get; init; } = "";

    /// <summary>The tags given when it was registered.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>When it was registered; null when the manager did not say.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>A service's two access keys (a scoring call carries either as <c>authorization</c>):
/// <c>var (primary, secondary) = await client.GetAuthKeysAsync(name);</c>. <see cref="ToString"/> shows neither.</summary>
public sealed record AuthKeys(string PrimaryKey, string SecondaryKey)
{
    /// <summary>Never a key.</summary>
    public override string ToString() => "AuthKeys(PrimaryKey=<redacted>, SecondaryKey=<redacted>)";
}

/// <summary>
/// One server of a service as its metrics showed it when <see cref="IDeploymentClient.GetServiceAsync"/> was answered.
/// Counts and latencies are over the server process's lifetime (a restarted server starts again from zero); the
/// latencies are of Predict calls, every outcome, estimated from the server's histogram.
/// </summary>
public sealed record ReplicaStatus
{
    /// <summary>0 .. <see cref="Service.NumReplicas"/> - 1.</summary>
    public int Index { get; init; }

    /// <summary>Whether it takes calls.</summary>
    public ReplicaHealth Health { get; init; }

    /// <summary>Why its health is what it is, when the manager says.</summary>
    public string HealthMessage { get; init; } = "";

    /// <summary>Calls answered, by final gRPC code name (<c>OK</c>, <c>UNAUTHENTICATED</c>, ...).</summary>
    public IReadOnlyDictionary<string, long> CallsByCode { get; init; } = new Dictionary<string, long>();

    /// <summary>Images scored in Predict calls that ended OK.</summary>
    public long ImagesScored { get; init; }

    /// <summary>FPGA queue places in use now.</summary>
    public int QueueInUse { get; init; }

    /// <summary>The queue's size.</summary>
    public int QueueCapacity { get; init; }

    /// <summary>Median Predict latency, milliseconds (0 before the first call).</summary>
    public double LatencyP50Ms { get; init; }

    /// <summary>99th percentile Predict latency, milliseconds.</summary>
    public double LatencyP99Ms { get; init; }

    /// <summary>When the manager read the metrics.</summary>
    public DateTimeOffset? ObservedAt { get; init; }
}

/// <summary>
/// A scoring service. <see cref="PrimaryKey"/> and <see cref="SecondaryKey"/> are set only on what
/// <see cref="IDeploymentClient.CreateServiceAsync"/> (and an update that turned SSL on) returns; otherwise
/// <see cref="IDeploymentClient.GetAuthKeysAsync"/> reads them. <see cref="ToString"/> never shows a key.
/// </summary>
public sealed record Service
{
    /// <summary><c>svc_</c> and 12 hex digits.</summary>
    public required string Id { get; init; }

    /// <summary>A DNS label, unique on the manager.</summary>
    public required string Name { get; init; }

    /// <summary>The <see cref="Model.Id"/> it serves.</summary>
    public string ModelId { get; init; } = "";

    /// <summary>Creating, running, failed or deleting.</summary>
    public ServiceState State { get; init; }

    /// <summary>Why the service failed (or what the last restart did); empty otherwise.</summary>
    public string StateMessage { get; init; } = "";

    /// <summary>The address scoring clients connect to (with <see cref="Port"/>).</summary>
    public string IpAddress { get; init; } = "";

    /// <summary>The service's port.</summary>
    public int Port { get; init; }

    /// <summary>TLS on the port; the service then requires a key on every call (auth only with SSL).</summary>
    public bool SslEnabled { get; init; }

    /// <summary>How many servers run it.</summary>
    public int NumReplicas { get; init; }

    /// <summary><c>process</c> or <c>container</c>: how the manager runs it.</summary>
    public string Runtime { get; init; } = "";

    /// <summary>When it was created.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    /// <summary>The SHA-256 fingerprint (hex) of the certificate in use; empty without SSL.</summary>
    public string CertificateSha256 { get; init; } = "";

    /// <summary>When that certificate expires.</summary>
    public DateTimeOffset? CertificateNotAfter { get; init; }

    /// <summary>Each server's status read from its metrics: filled by <see cref="IDeploymentClient.GetServiceAsync"/> only.</summary>
    public IReadOnlyList<ReplicaStatus> Replicas { get; init; } = [];

    /// <summary>The primary key, when this answer carried the keys (a create, or an update that turned SSL on); else null.</summary>
    public string? PrimaryKey { get; init; }

    /// <summary>The secondary key, when this answer carried the keys; else null.</summary>
    public string? SecondaryKey { get; init; }

    /// <summary><c>IpAddress:Port</c> (<c>[v6]:port</c> for an IPv6 address): what a scoring client connects to.</summary>
    public string Address => IpAddress.Contains(':', StringComparison.Ordinal) ? $"[{IpAddress}]:{Port}" : $"{IpAddress}:{Port}";

    /// <summary>The service's fields, never a key (whether keys came with it is shown as <c>Keys=yes</c>).</summary>
    public override string ToString() =>
        $"Service(Id={Id}, Name={Name}, ModelId={ModelId}, State={State}, Address={Address}, SslEnabled={SslEnabled}, " +
        $"NumReplicas={NumReplicas}, Runtime={Runtime}, Keys={(PrimaryKey is null && SecondaryKey is null ? "no" : "yes")})";
}

/// <summary>What <see cref="IDeploymentClient.CreateServiceAsync"/> starts a service with besides its name and model.</summary>
public sealed class CreateServiceOptions
{
    /// <summary>TLS on the service's port; the service then requires a key on every call. Needs
    /// <see cref="SslCertificate"/> and <see cref="SslKey"/>.</summary>
    public bool SslEnabled { get; set; }

    /// <summary>The certificate chain (leaf first): PEM text, or the path of a PEM file.</summary>
    public string? SslCertificate { get; set; }

    /// <summary>Its private key: PEM text, or the path of a PEM file.</summary>
    public string? SslKey { get; set; }

    /// <summary>The primary key to use (SSL only); null: the manager generates a strong random one.</summary>
    public string? PrimaryKey { get; set; }

    /// <summary>The secondary key to use (SSL only); null: generated.</summary>
    public string? SecondaryKey { get; set; }

    /// <summary>How many servers run the service. Default 1.</summary>
    public int NumReplicas { get; set; } = 1;

    /// <summary>The settings, never a key.</summary>
    public override string ToString() =>
        $"CreateServiceOptions(SslEnabled={SslEnabled}, SslCertificate={(SslCertificate is null ? "none" : "set")}, " +
        $"SslKey={(SslKey is null ? "none" : "<redacted>")}, PrimaryKey={(PrimaryKey is null ? "generated" : "<redacted>")}, " +
        $"SecondaryKey={(SecondaryKey is null ? "generated" : "<redacted>")}, NumReplicas={NumReplicas})";
}

/// <summary>What <see cref="IDeploymentClient.UpdateServiceAsync"/> changes; null (or empty) leaves a setting as it is.</summary>
public sealed class UpdateServiceOptions
{
    /// <summary>Turn SSL on (needs <see cref="SslCertificate"/> and <see cref="SslKey"/>, issues new keys) or off
    /// (drops certificate and keys); a restart on the same port.</summary>
    public bool? SslEnabled { get; set; }

    /// <summary>A new certificate chain (with <see cref="SslKey"/>): swapped in without a restart. PEM text or a path.</summary>
    public string? SslCertificate { get; set; }

    /// <summary>The new certificate's private key: PEM text or a path.</summary>
    public string? SslKey { get; set; }

    /// <summary>Another registered model: a restart on the same port.</summary>
    public string? ModelId { get; set; }

    /// <summary>How many servers run the service.</summary>
    public int? NumReplicas { get; set; }

    /// <summary>The settings, never a key.</summary>
    public override string ToString() =>
        $"UpdateServiceOptions(SslEnabled={SslEnabled?.ToString() ?? "unchanged"}, SslCertificate={(SslCertificate is null ? "unchanged" : "set")}, " +
        $"SslKey={(SslKey is null ? "unchanged" : "<redacted>")}, ModelId={ModelId ?? "unchanged"}, NumReplicas={NumReplicas?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unchanged"})";
}
