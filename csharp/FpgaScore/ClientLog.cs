using Microsoft.Extensions.Logging;

namespace FpgaScore;

/// <summary>The client's log lines (<see cref="ScoringClientOptions.LoggerFactory"/>), the same events as the Python
/// and Go clients log: never a key, always the attempt, the code and the server's request id.</summary>
internal static class ClientLog
{
    public const string Category = "FpgaScore.ScoringClient";

    /// <summary>The category of <see cref="DeploymentClient"/>'s lines (<see cref="DeploymentClientOptions.LoggerFactory"/>).</summary>
    public const string DeploymentCategory = "FpgaScore.DeploymentClient";

    private static readonly Action<ILogger, int, string, string, Exception?> FailedOverLine = LoggerMessage.Define<int, string, string>(
        LogLevel.Information, new EventId(1, "FailedOver"),
        "fpgascore: attempt {Attempt} to {Target} failed with UNAUTHENTICATED (request-id {RequestId}); repeating it at once with the other key");

    private static readonly Action<ILogger, int, string, string, string, double, Exception?> RetryingLine =
        LoggerMessage.Define<int, string, string, string, double>(
            LogLevel.Information, new EventId(2, "Retrying"),
            "fpgascore: attempt {Attempt} to {Target} failed with {Code} (request-id {RequestId}); retrying in {Seconds:0.000} s");

    private static readonly Action<ILogger, string, string, int, string, Exception?> EndedLine =
        LoggerMessage.Define<string, string, int, string>(
            LogLevel.Debug, new EventId(3, "Ended"),
            "fpgascore: call to {Target} ended {Code} after {Attempts} attempt(s) (request-id {RequestId})");

    private static readonly Action<ILogger, string, string, string, string, Exception?> DeploymentEndedLine =
        LoggerMessage.Define<string, string, string, string>(
            LogLevel.Debug, new EventId(4, "DeploymentCallEnded"),
            "fpgascore: {Method} to {Target} ended {Code} (request-id {RequestId})");

    /// <summary>A deployment call's end: the method, never its arguments (they may hold keys or PEM).</summary>
    public static void DeploymentEnded(ILogger log, string method, Uri target, Grpc.Core.StatusCode code, string requestId) =>
        DeploymentEndedLine(log, method, target.ToString(), ScoringException.CodeName(code), Or(requestId), null);

    public static void FailedOver(ILogger log, int attempt, Uri target, string requestId) =>
        FailedOverLine(log, attempt, target.ToString(), Or(requestId), null);

    public static void Retrying(ILogger log, int attempt, Uri target, Grpc.Core.StatusCode code, string requestId, TimeSpan sleep) =>
        RetryingLine(log, attempt, target.ToString(), ScoringException.CodeName(code), Or(requestId), sleep.TotalSeconds, null);

    /// <summary>Every call's last line, at Debug: its arguments are made only when Debug is on (a call made with no
    /// logger, or one below Debug, pays for the check alone).</summary>
    public static void Ended(ILogger log, Uri target, Grpc.Core.StatusCode code, int attempts, string requestId)
    {
        if (log.IsEnabled(LogLevel.Debug))
            EndedLine(log, target.ToString(), ScoringException.CodeName(code), attempts, Or(requestId), null);
    }

    private static string Or(string requestId) => string.IsNullOrEmpty(requestId) ? "-" : requestId;
}
