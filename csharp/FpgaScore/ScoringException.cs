using Grpc.Core;

namespace FpgaScore;

/// <summary>
/// The one error type of the client: a gRPC <see cref="RpcException"/> carrying the status code,
/// the server's (or the client's) message and the server's <c>request-id</c>.
/// </summary>
/// <remarks>
/// Local input checks raise it with <see cref="StatusCode.InvalidArgument"/> before any call is made;
/// a client that would send a key over plaintext raises it with <see cref="StatusCode.FailedPrecondition"/>;
/// an untrusted server certificate ends in <see cref="StatusCode.Unavailable"/> with a message containing
/// <c>certificate was not trusted</c>. Its message and <see cref="ToString"/> never contain an access key.
/// </remarks>
public sealed class ScoringException : RpcException
{
    /// <summary>The metadata key of the server's request id.</summary>
    public const string RequestIdKey = "request-id";

    /// <summary>Creates an error with a code and a message, and optionally the server's request id and trailers.</summary>
    public ScoringException(StatusCode code, string details, string? requestId = null, Metadata? trailers = null)
        : base(new Status(code, details), trailers ?? new Metadata(), Format(code, details, requestId))
    {
        RequestId = requestId ?? "";
    }

    /// <summary>Creates an error from a status (e.g. one whose <see cref="Status.DebugException"/> gives the cause).</summary>
    public ScoringException(Status status, string? requestId = null, Metadata? trailers = null)
        : base(status, trailers ?? new Metadata(), Format(status.StatusCode, status.Detail, requestId))
    {
        RequestId = requestId ?? "";
    }

    /// <summary>The gRPC status code (same as <see cref="RpcException.StatusCode"/>).</summary>
    public StatusCode Code => StatusCode;

    /// <summary>The server's (or the client's) message (same as <see cref="Status.Detail"/>).</summary>
    public string Details => Status.Detail;

    /// <summary>The server's <c>request-id</c> for the failed call; empty when the server sent none or the call never reached it.</summary>
    public string RequestId { get; }

    /// <summary>The canonical gRPC name of a code (<c>Unavailable</c> → <c>UNAVAILABLE</c>), as the other clients, the
    /// command line and the conformance protocol spell it (Go's <c>fpgascore.CodeName</c>, Python's <c>code.name</c>).</summary>
    public static string CodeName(Grpc.Core.StatusCode code) => code switch
    {
        Grpc.Core.StatusCode.OK => "OK",
        Grpc.Core.StatusCode.Cancelled => "CANCELLED",
        Grpc.Core.StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        Grpc.Core.StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        Grpc.Core.StatusCode.NotFound => "NOT_FOUND",
        Grpc.Core.StatusCode.AlreadyExists => "ALREADY_EXISTS",
        Grpc.Core.StatusCode.PermissionDenied => "PERMISSION_DENIED",
        Grpc.Core.StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        Grpc.Core.StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        Grpc.Core.StatusCode.Aborted => "ABORTED",
        Grpc.Core.StatusCode.OutOfRange => "OUT_OF_RANGE",
        Grpc.Core.StatusCode.Unimplemented => "UNIMPLEMENTED",
        Grpc.Core.StatusCode.Internal => "INTERNAL",
        Grpc.Core.StatusCode.Unavailable => "UNAVAILABLE",
        Grpc.Core.StatusCode.DataLoss => "DATA_LOSS",
        Grpc.Core.StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    };

    /// <summary>The code, message and request id on one line, plus the stack trace.</summary>
    public override string ToString()
    {
        var text = $"{typeof(ScoringException).FullName}: {Message}";
        return StackTrace is null ? text : text + Environment.NewLine + StackTrace;
    }

    private static string Format(StatusCode code, string details, string? requestId)
    {
        var text = $"{code}: {details}";
        return string.IsNullOrEmpty(requestId) ? text : $"{text} (request-id {requestId})";
    }
}
