using FpgaScore.V1;
using Grpc.Core;

namespace FpgaScore;

/// <summary>The statuses <see cref="ScoringClient.CheckHealthAsync"/> returns (grpc.health.v1's names).</summary>
public static class HealthStatus
{
    /// <summary>The server takes calls.</summary>
    public const string Serving = "SERVING";

    /// <summary>The server is draining: it finishes the calls it has and takes no new ones.</summary>
    public const string NotServing = "NOT_SERVING";

    /// <summary>The server does not know the service asked about.</summary>
    public const string ServiceUnknown = "SERVICE_UNKNOWN";

    /// <summary>The server answered a status this client does not know.</summary>
    public const string Unknown = "UNKNOWN";
}

public sealed partial class ScoringClient
{
    /// <summary>
    /// Asks the server's grpc.health.v1 service for the status of <paramref name="service"/> ("" is the whole server)
    /// through the client's channel, TLS and key: one of <see cref="HealthStatus"/>. One attempt, no retries (a health
    /// check reports), within <see cref="ScoringClientOptions.Timeout"/>.
    /// </summary>
    /// <param name="service">The service to ask about; "" for the whole server.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ScoringException">As for any call: <c>Unavailable</c> when nothing answers, <c>NotFound</c> for a
    /// service the server does not know.</exception>
    public async Task<string> CheckHealthAsync(string service = "", CancellationToken cancellationToken = default)
    {
        var (health, request, options, failuresBefore) = HealthCall(service, cancellationToken);
        using var call = health.CheckAsync(request, options);
        try
        {
            return StatusName((await call.ResponseAsync.ConfigureAwait(false)).Status);
        }
        catch (RpcException error)
        {
            throw ErrorMapper.FromRpc(error, ErrorMapper.RequestId(HeadersOf(call), error.Trailers), _keys, _validator, failuresBefore);
        }
    }

    /// <summary>The server's health, with a blocking call (see <see cref="CheckHealthAsync"/>).</summary>
    /// <param name="service">The service to ask about; "" for the whole server.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ScoringException">As for <see cref="CheckHealthAsync"/>.</exception>
    public string CheckHealth(string service = "", CancellationToken cancellationToken = default)
    {
        var (health, request, options, failuresBefore) = HealthCall(service, cancellationToken);
        try
        {
            return StatusName(health.Check(request, options).Status);
        }
        catch (RpcException error)
        {
            throw ErrorMapper.FromRpc(error, ErrorMapper.RequestId(null, error.Trailers), _keys, _validator, failuresBefore);
        }
    }

    private (Health.HealthClient Health, HealthCheckRequest Request, CallOptions Options, int FailuresBefore) HealthCall(
        string service, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(service);
        var options = new CallOptions(Headers(null), DateTime.UtcNow + _timeout, cancellationToken, credentials: _keys.Credentials(_keys.Current));
        return (new Health.HealthClient(_invoker), new HealthCheckRequest { Service = service }, options, _validator?.Failures ?? 0);
    }

    private static string StatusName(HealthCheckResponse.Types.ServingStatus status) => status switch
    {
        HealthCheckResponse.Types.ServingStatus.Serving => HealthStatus.Serving,
        HealthCheckResponse.Types.ServingStatus.NotServing => HealthStatus.NotServing,
        HealthCheckResponse.Types.ServingStatus.ServiceUnknown => HealthStatus.ServiceUnknown,
        _ => HealthStatus.Unknown,
    };
}
