using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FpgaScore;

/// <summary>The deployment API's protobuf messages to and from the client's records, and the PEM arguments.</summary>
internal static class DeploymentMessages
{
    /// <summary>At most this many replicas' statuses are read from one answer (a peer's list is bounded).</summary>
    public const int MaxReplicas = 1024;

    public static Model ToModel(V1.Model? message)
    {
        message ??= new V1.Model();
        return new Model
        {
            Id = message.Id,
            Name = message.Name,
            Version = message.Version,
            Description = message.Description,
            Tags = new Dictionary<string, string>(message.Tags),
            CreatedAt = Time(message.CreatedAt),
        };
    }

    public static Service ToService(V1.Service? message, V1.AuthKeys? keys = null)
    {
        message ??= new V1.Service();
        return new Service
        {
            Id = message.Id,
            Name = message.Name,
            ModelId = message.ModelId,
            State = message.State switch
            {
                V1.Service.Types.State.Creating => ServiceState.Creating,
                V1.Service.Types.State.Running => ServiceState.Running,
                V1.Service.Types.State.Failed => ServiceState.Failed,
                V1.Service.Types.State.Deleting => ServiceState.Deleting,
                _ => ServiceState.Unknown,
            },
            StateMessage = message.StateMessage,
            IpAddress = message.IpAddress,
            Port = message.Port,
            SslEnabled = message.SslEnabled,
            NumReplicas = message.NumReplicas,
            Runtime = message.Runtime,
            CreatedAt = Time(message.CreatedAt),
            UpdatedAt = Time(message.UpdatedAt),
            CertificateSha256 = message.CertificateSha256,
            CertificateNotAfter = Time(message.CertificateNotAfter),
            Replicas = message.Replicas.Take(MaxReplicas).Select(ToReplica).ToArray(),
            PrimaryKey = NullIfEmpty(keys?.PrimaryKey),
            SecondaryKey = NullIfEmpty(keys?.SecondaryKey),
        };
    }

    public static ReplicaStatus ToReplica(V1.ReplicaStatus message) => new()
    {
        Index = message.Index,
        Health = message.Health switch
        {
            V1.ReplicaStatus.Types.Health.Serving => ReplicaHealth.Serving,
            V1.ReplicaStatus.Types.Health.NotServing => ReplicaHealth.NotServing,
            _ => ReplicaHealth.Unknown,
        },
        HealthMessage = message.HealthMessage,
        CallsByCode = new Dictionary<string, long>(message.CallsByCode),
        ImagesScored = message.ImagesScored,
        QueueInUse = message.QueueInUse,
        QueueCapacity = message.QueueCapacity,
        LatencyP50Ms = message.LatencyP50Ms,
        LatencyP99Ms = message.LatencyP99Ms,
        ObservedAt = Time(message.ObservedAt),
    };

    /// <summary>Both keys of an answer that must hold them (<c>GetAuthKeys</c>, <c>RegenerateAuthKeys</c>).</summary>
    public static AuthKeys ToKeys(V1.AuthKeys? keys, string method)
    {
        if (keys is null || string.IsNullOrEmpty(keys.PrimaryKey) || string.IsNullOrEmpty(keys.SecondaryKey))
            throw new ScoringException(StatusCode.Internal, $"the manager's {method} answer holds no keys (primary and secondary)");
        return new AuthKeys(keys.PrimaryKey, keys.SecondaryKey);
    }

    public static V1.RegenerateAuthKeysRequest.Types.KeyType ToKeyType(KeyType keyType) => keyType switch
    {
        KeyType.Primary => V1.RegenerateAuthKeysRequest.Types.KeyType.Primary,
        KeyType.Secondary => V1.RegenerateAuthKeysRequest.Types.KeyType.Secondary,
        _ => throw new ScoringException(StatusCode.InvalidArgument, $"keyType must be KeyType.Primary or KeyType.Secondary, not {(int)keyType}"),
    };

    /// <summary>PEM text as given, or read from the file <paramref name="value"/> names (text holding <c>-----BEGIN</c> is PEM); "" for null.</summary>
    public static string Pem(string? value, string what)
    {
        if (value is null) return "";
        if (value.Contains("-----BEGIN", StringComparison.Ordinal)) return value;
        try
        {
            return File.ReadAllText(value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // The value is not PEM, so it may be a path; it is never shown (a key pasted without its header stays unseen).
            throw new ScoringException(StatusCode.InvalidArgument,
                $"{what}: not PEM text (no '-----BEGIN') and not a readable file ({e.GetType().Name}: {e.Message.Replace(value, "<value>", StringComparison.Ordinal)})");
        }
    }

    /// <summary>The id, name or service given, checked.</summary>
    public static string ServiceId(string serviceId) =>
        string.IsNullOrWhiteSpace(serviceId)
            ? throw new ScoringException(StatusCode.InvalidArgument, "serviceId must be a service's id or its name, not empty")
            : serviceId;

    /// <summary>Null for an unset time, or one outside what a timestamp may hold (a peer's bad value is not a failure).</summary>
    private static DateTimeOffset? Time(Timestamp? timestamp)
    {
        if (timestamp is null || (timestamp.Seconds == 0 && timestamp.Nanos == 0)) return null;
        try
        {
            return timestamp.ToDateTimeOffset();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
