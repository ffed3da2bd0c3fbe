package fpgascore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RequestIDKey is the response metadata key under which the server sends the id of a
// request (in the trailing or the initial metadata).
const RequestIDKey = "request-id"

// untrustedPhrase is the phrase every fpgascore client puts in the message of an error
// caused by a server certificate the client does not trust.
const untrustedPhrase = "certificate was not trusted"

// notTLSPhrase and speaksTLSPhrase begin the message of a TLS/plaintext mismatch in every
// fpgascore client (conformance/CLIENT_SPEC.md, "Errors"): a TLS client on a plaintext
// port, and a plaintext client on a TLS port.
const (
	notTLSPhrase    = "the server does not speak TLS"
	speaksTLSPhrase = "the server speaks TLS"
)

// untrustedCertificate reports whether the error is a failed TLS verification, which the
// retry policy never retries (waiting does not make a certificate trusted).
func (e *Error) untrustedCertificate() bool {
	return e.Code == codes.Unavailable && strings.Contains(e.Message, untrustedPhrase)
}

// neverRetried reports whether waiting cannot change the error, whatever the retry policy
// allows: an untrusted certificate, or a TLS/plaintext mismatch.
func (e *Error) neverRetried() bool {
	return e.untrustedCertificate() || (e.Code == codes.Unavailable &&
		(strings.HasPrefix(e.Message, notTLSPhrase) || strings.HasPrefix(e.Message, speaksTLSPhrase)))
}

// classifyMismatch rewrites the message of an UNAVAILABLE error caused by a TLS/plaintext
// mismatch (tls: whether the client uses TLS) to say so and what to do; the cause stays in
// the message, and Unwrap still returns the gRPC error.
func (e *Error) classifyMismatch(tls bool) {
	if e.Code != codes.Unavailable || e.untrustedCertificate() {
		return
	}
	if message := mismatchMessage(e.Message, tls); message != "" {
		e.Message, e.status = message, nil
	}
}

// mismatchMessage is the client's message for a TLS/plaintext mismatch seen in a gRPC
// connection error, or "" when the message shows none. grpc-go says "tls: first record does
// not look like a TLS handshake" when a TLS handshake got plaintext bytes, and "error reading
// server preface" (EOF, a reset, or a TLS alert read as a too-large HTTP/2 frame) when a TLS
// server closed a plaintext connection before HTTP/2 began.
func mismatchMessage(message string, tls bool) string {
	switch {
	case tls && strings.Contains(message, "first record does not look like a TLS handshake"):
		return notTLSPhrase + " (the TLS handshake got a plaintext answer): connect without TLS, drop WithTLS() (" + message + ")"
	case !tls && strings.Contains(message, "error reading server preface"):
		return speaksTLSPhrase + " (it closed the plaintext connection before HTTP/2 began): connect with TLS, use WithTLS() (" + message + ")"
	}
	return ""
}

// Error is the error of every failed call and of a refused configuration. It carries the
// gRPC status code, the server's message and the server's request id.
//
// status.Code(err) and status.FromError(err) work on it (it implements GRPCStatus), and
// errors.As(err, &e) with e of type *Error finds it. Unwrap returns the underlying error
// (the gRPC status error, or a local cause), if any.
type Error struct {
	// Code is the gRPC status code: the server's, or the client's own for local checks
	// (INVALID_ARGUMENT for bad input, FAILED_PRECONDITION for a key over plaintext,
	// UNAVAILABLE for a connection or certificate failure, DEADLINE_EXCEEDED, ...).
	Code codes.Code
	// Message is the server's message (the status details), or the client's own.
	Message string
	// RequestID is the server's id of the failed request (metadata "request-id"), empty when
	// the server sent none or the call never reached it.
	RequestID string

	status *status.Status
	cause  error
}

// Error returns "fpgascore: CODE: message [request_id=...]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fpgascore: ")
	b.WriteString(codeName(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request_id=")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	return b.String()
}

// GRPCStatus returns the error as a gRPC status, so that status.Code and status.FromError
// report Code and Message.
func (e *Error) GRPCStatus() *status.Status {
	if e.status != nil && e.status.Code() == e.Code && e.status.Message() == e.Message {
		return e.status
	}
	return status.New(e.Code, e.Message)
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code (a target with an empty
// Message matches any message), so errors.Is(err, &fpgascore.Error{Code: codes.Unavailable})
// works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// newError makes a client-side *Error (no call was made, or it never reached the server).
func newError(code codes.Code, format string, args ...interface{}) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorFromCall turns the error of a gRPC call into an *Error, taking the request id from
// the response metadata and removing the given secrets from the message.
func errorFromCall(err error, header, trailer metadata.MD, secrets []string) *Error {
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	st, ok := status.FromError(err)
	if !ok {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			st = status.New(codes.DeadlineExceeded, err.Error())
		case errors.Is(err, context.Canceled):
			st = status.New(codes.Canceled, err.Error())
		default:
			st = status.New(codes.Unknown, err.Error())
		}
	}
	message := redact(st.Message(), secrets)
	if st.Code() == codes.Unavailable && !strings.Contains(message, untrustedPhrase) && looksLikeCertFailure(message) {
		message = untrustedPhrase + ": " + message
	}
	e := &Error{Code: st.Code(), Message: message, RequestID: requestID(header, trailer), cause: err}
	if message == st.Message() {
		e.status = st
	}
	return e
}

// looksLikeCertFailure recognises a TLS verification failure in a gRPC message when the
// error did not pass through this package's transport credentials.
func looksLikeCertFailure(message string) bool {
	return strings.Contains(message, "x509: ") ||
		strings.Contains(message, "tls: failed to verify") ||
		strings.Contains(message, "certificate signed by unknown authority")
}

func requestID(header, trailer metadata.MD) string {
	for _, md := range []metadata.MD{trailer, header} {
		if values := md.Get(RequestIDKey); len(values) > 0 && values[0] != "" {
			return values[0]
		}
	}
	return ""
}

// minRedactLength is the shortest key scrubbed from messages: shorter ones would mangle
// ordinary words (and are no secret anyway).
const minRedactLength = 6

func redact(message string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= minRedactLength && strings.Contains(message, s) {
			message = strings.ReplaceAll(message, s, "<redacted>")
		}
	}
	return message
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// codeName is the canonical gRPC name of a code ("UNAVAILABLE"), as the other clients and
// the conformance protocol spell it.
func codeName(c codes.Code) string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}

// CodeName returns the canonical gRPC name of a code, e.g. "UNAVAILABLE", "OK" or
// "CANCELLED" (codes.Code's own String method gives "Unavailable").
func CodeName(c codes.Code) string { return codeName(c) }

// ErrorCode returns the gRPC code of any error: OK for nil, the code of an *Error or of a
// gRPC status error, DEADLINE_EXCEEDED / CANCELLED for context errors, UNKNOWN otherwise.
func ErrorCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}
