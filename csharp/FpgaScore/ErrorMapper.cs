using System.Security.Authentication;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Turns a failed attempt into the client's <see cref="ScoringException"/>.</summary>
internal static class ErrorMapper
{
    public const string UntrustedCertificate = "certificate was not trusted";

    /// <param name="error">The attempt's error.</param>
    /// <param name="requestId">The server's request id, empty when none.</param>
    /// <param name="keys">The keys, to redact from messages.</param>
    /// <param name="validator">The certificate check (TLS only).</param>
    /// <param name="failuresBefore">The validator's refusal count before the attempt started.</param>
    public static ScoringException FromRpc(RpcException error, string requestId, KeyRing keys, CertificateValidator? validator, int failuresBefore)
    {
        if (error is ScoringException scoring) return scoring;
        var status = error.Status;
        // Grpc.Net.Client reports a failed TLS handshake as UNAVAILABLE or INTERNAL depending on where it failed.
        if (status.StatusCode is StatusCode.Unavailable or StatusCode.Internal && validator is not null
            && IsCertificateFailure(status.DebugException, validator.Failures > failuresBefore))
        {
            var reason = validator.LastFailure ?? "the TLS handshake refused it";
            status = new Status(StatusCode.Unavailable, $"{UntrustedCertificate}: {reason}", status.DebugException);
        }
        else if (status.StatusCode == StatusCode.Internal && (IsHandshakeFailure(status.DebugException) || IsConnectionFailure(status.DebugException)))
        {
            // e.g. TLS to a plaintext server, or plaintext to a TLS port: the connection could not be set up, as gRPC's core reports it.
            status = new Status(StatusCode.Unavailable, keys.Redact(status.Detail), status.DebugException);
        }
        else
        {
            status = new Status(status.StatusCode, keys.Redact(status.Detail), status.DebugException);
        }
        return new ScoringException(status, requestId, error.Trailers);
    }

    public static ScoringException Cancelled() => new(StatusCode.Cancelled, "the call was cancelled");

    /// <summary>Whether the TLS handshake failed because the certificate check refused the server's certificate.</summary>
    /// <param name="exception">The cause of the failed attempt.</param>
    /// <param name="refusedMeanwhile">Whether the certificate check refused a certificate during the attempt.</param>
    public static bool IsCertificateFailure(Exception? exception, bool refusedMeanwhile)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is AuthenticationException
                && (refusedMeanwhile || e.Message.Contains("RemoteCertificateValidationCallback", StringComparison.Ordinal)))
                return true;
        return false;
    }

    /// <summary>Whether the call failed in the TLS handshake, before the server saw it.</summary>
    public static bool IsHandshakeFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is AuthenticationException) return true;
        return false;
    }

    /// <summary>
    /// Whether the HTTP request itself failed (<see cref="HttpRequestException"/>: no HTTP/2 connection, e.g. a plaintext
    /// client on a TLS port). Grpc.Net.Client reports that as <c>Unavailable</c> when the exception wraps an
    /// <see cref="IOException"/>, but as <c>Internal</c> when it wraps nothing, which SocketsHttpHandler now and then
    /// throws for the same failure (seen for plaintext to a TLS port on a loaded machine).
    /// </summary>
    public static bool IsConnectionFailure(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is HttpRequestException) return true;
        return false;
    }

    /// <summary>The server's <c>request-id</c> from the trailers, else the headers; empty when neither has it.</summary>
    public static string RequestId(Metadata? headers, Metadata? trailers) =>
        trailers?.GetValue(ScoringException.RequestIdKey) ?? headers?.GetValue(ScoringException.RequestIdKey) ?? "";
}
