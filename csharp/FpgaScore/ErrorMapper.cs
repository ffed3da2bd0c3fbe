using System.Security.Authentication;
using Grpc.Core;

namespace FpgaScore;

/// <summary>Turns a failed attempt into the client's <see cref="ScoringException"/>.</summary>
internal static class ErrorMapper
{
    public const string UntrustedCertificate = "certificate was not trusted";

    /// <summary>The message of a TLS client's error on a plaintext port begins with this (in every fpgascore client).</summary>
    public const string NotTls = "the server does not speak TLS";

    /// <summary>The message of a plaintext client's error on a TLS port begins with this (in every fpgascore client).</summary>
    public const string SpeaksTls = "the server speaks TLS";

    /// <summary>What SocketsHttpHandler says when the first bytes the server sent were not an HTTP/2 SETTINGS frame.</summary>
    private const string NoHttp2Handshake = "did not complete the HTTP/2 handshake";

    /// <summary>What SslStream says when the handshake's answer is not a TLS record (e.g. a plaintext HTTP/2 server's frame).</summary>
    private static readonly string[] NotTlsRecord = ["frame size", "corrupted frame"];

    /// <param name="error">The attempt's error.</param>
    /// <param name="requestId">The server's request id, empty when none.</param>
    /// <param name="keys">The keys, to redact from messages.</param>
    /// <param name="validator">The certificate check (TLS only).</param>
    /// <param name="failuresBefore">The validator's refusal count before the attempt started.</param>
    /// <param name="useSsl">Whether the client uses TLS (null: unknown, as when <paramref name="validator"/> is given or not).</param>
    /// <param name="deadline">How long the call was given (its deadline less its start), for an empty DEADLINE_EXCEEDED message.</param>
    /// <param name="deadlineSetting">What sets the deadline, named by an empty DEADLINE_EXCEEDED message.</param>
    public static ScoringException FromRpc(RpcException error, string requestId, KeyRing keys, CertificateValidator? validator, int failuresBefore,
        bool? useSsl = null, TimeSpan? deadline = null, string deadlineSetting = "ScoringClientOptions.Timeout, or the call's deadline argument")
    {
        if (error is ScoringException scoring) return scoring;
        var status = error.Status;
        var tls = useSsl ?? validator is not null;
        // Grpc.Net.Client reports a failed TLS handshake as UNAVAILABLE or INTERNAL depending on where it failed.
        if (status.StatusCode is StatusCode.Unavailable or StatusCode.Internal && validator is not null
            && IsCertificateFailure(status.DebugException, validator.Failures > failuresBefore))
        {
            var reason = validator.LastFailure ?? "the TLS handshake refused it";
            status = new Status(StatusCode.Unavailable, $"{UntrustedCertificate}: {reason}", status.DebugException);
        }
        else if (status.StatusCode is StatusCode.Unavailable or StatusCode.Internal && Mismatch(status.DebugException, tls) is { } mismatch)
        {
            // A connection that never became HTTP/2 is UNAVAILABLE, however Grpc.Net.Client coded it (now and then
            // INTERNAL for plaintext to a TLS port), with what to do first and the cause after.
            status = new Status(StatusCode.Unavailable, $"{mismatch} ({WithCause(keys.Redact(status.Detail), status.DebugException, keys)})", status.DebugException);
        }
        else if (status.StatusCode == StatusCode.Internal && (IsHandshakeFailure(status.DebugException) || IsConnectionFailure(status.DebugException)))
        {
            // e.g. a connection reset before HTTP/2 began: the connection could not be set up, as gRPC's core reports it.
            status = new Status(StatusCode.Unavailable, WithCause(keys.Redact(status.Detail), status.DebugException, keys), status.DebugException);
        }
        else if (status.StatusCode == StatusCode.DeadlineExceeded && IsBare(status.Detail))
        {
            var after = deadline is { } d && d > TimeSpan.Zero ? $" after {d.TotalSeconds:0.###} s" : "";
            status = new Status(StatusCode.DeadlineExceeded,
                $"deadline exceeded{after} ({deadlineSetting})", status.DebugException);
        }
        else
        {
            status = new Status(status.StatusCode, WithCause(keys.Redact(status.Detail), status.DebugException, keys), status.DebugException);
        }
        return new ScoringException(status, requestId, error.Trailers);
    }

    public static ScoringException Cancelled() => new(StatusCode.Cancelled, "the call was cancelled");

    /// <summary>Whether waiting cannot change the error, whatever the retry policy allows: an untrusted certificate or a TLS/plaintext mismatch.</summary>
    public static bool NeverRetried(ScoringException failure) =>
        failure.StatusCode == StatusCode.Unavailable
        && (failure.Details.StartsWith(UntrustedCertificate, StringComparison.Ordinal)
            || failure.Details.StartsWith(NotTls, StringComparison.Ordinal)
            || failure.Details.StartsWith(SpeaksTls, StringComparison.Ordinal));

    /// <summary>
    /// The first part of the message for a TLS/plaintext mismatch, or null when the cause shows none: a TLS client whose
    /// handshake got no TLS record back (the server answered in plaintext), or a plaintext client whose HTTP/2 handshake
    /// got no SETTINGS frame back (a TLS server's alert, or the connection closed).
    /// </summary>
    public static string? Mismatch(Exception? exception, bool useSsl)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (useSsl && e is AuthenticationException && NotTlsRecord.Any(m => e.Message.Contains(m, StringComparison.OrdinalIgnoreCase)))
                return $"{NotTls} (the TLS handshake got a plaintext answer): connect without TLS, UseSsl = false";
            if (!useSsl && e is HttpRequestException or HttpIOException && e.Message.Contains(NoHttp2Handshake, StringComparison.Ordinal))
                return $"{SpeaksTls} (it did not complete the HTTP/2 handshake of a plaintext connection): connect with TLS, UseSsl = true";
        }
        return null;
    }

    /// <summary>
    /// The message with the cause appended when it does not say it already: Grpc.Net.Client's "Error connecting to
    /// subchannel." (and other bare messages) keep the cause only in <see cref="Status.DebugException"/>.
    /// </summary>
    public static string WithCause(string detail, Exception? exception, KeyRing keys)
    {
        var causes = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            var message = keys.Redact(e.Message);
            if (string.IsNullOrWhiteSpace(message) || detail.Contains(message, StringComparison.Ordinal)
                || causes.Any(c => c.Contains(message, StringComparison.Ordinal)))
                continue;
            causes.Add($"{e.GetType().Name}: {message}");
        }
        if (causes.Count == 0) return detail;
        var cause = string.Join(" ", causes);
        return IsBare(detail) ? cause : $"{detail.TrimEnd()} {cause}";
    }

    /// <summary>Whether a message says nothing (empty, or only the code's name).</summary>
    private static bool IsBare(string detail) =>
        string.IsNullOrWhiteSpace(detail) || detail.Trim().Equals("Deadline Exceeded", StringComparison.OrdinalIgnoreCase);

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
