"""The one exception hierarchy of the client, and the mapping from gRPC errors to it.

Every error carries the gRPC status code (``.code``), the server's message (``.details``)
and the server's ``request-id`` response metadata (``.request_id``, empty when the server
sent none or the call never reached it). No error ever holds an access key: messages are
redacted against the keys the client knows before an error is built.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Type, TypeVar

import grpc

__all__ = [
    "ScoringError",
    "InvalidInputError",
    "AuthenticationError",
    "PermissionDeniedError",
    "UnavailableError",
    "UntrustedCertificateError",
    "DeadlineExceededError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "InsecureKeyError",
    "InternalError",
    "NonFiniteScoreError",
    "CancelledError",
    "ModelNotFoundError",
    "NotFoundError",
    "AlreadyExistsError",
    "UnimplementedError",
    "InvalidKeyError",
]

REQUEST_ID_KEY = "request-id"
UNTRUSTED_CERTIFICATE = "certificate was not trusted"
# The phrases every fpgascore client puts in the message of a TLS/plaintext mismatch
# (conformance/CLIENT_SPEC.md, "Errors"): a TLS client on a plaintext port, and a
# plaintext client on a TLS port. Neither is retried: waiting does not change the port.
NOT_TLS = "the server does not speak TLS"
SPEAKS_TLS = "the server speaks TLS"
REDACTED = "<redacted>"

# Fragments of grpcio's (BoringSSL's / OpenSSL's) messages for a TLS handshake that failed
# because the server's certificate could not be verified: unknown CA, self-signed, expired,
# or not valid for the name checked. A handshake that failed for another reason (e.g. a
# plaintext server) stays a plain UNAVAILABLE error.
_CERTIFICATE_MARKERS = (
    "certificate verify failed",
    "certificate_verify_failed",
    "not in peer certificate",
    "certificate has expired",
    "self signed certificate",
    "self-signed certificate",
    "unable to get local issuer certificate",
)

# Fragments of grpcio's messages for a TLS handshake with a server that answered in
# plaintext (its HTTP/2 bytes are not a TLS record).
_PLAINTEXT_SERVER_MARKERS = (
    "wrong version number",
    "wrong_version_number",
    "packet length too long",
    "first record does not look like a tls handshake",
)

# Fragments of grpcio's messages for a plaintext connection that a TLS server closed before
# HTTP/2 began (it read our HTTP/2 preface as a broken TLS record): seen only while
# connecting ("failed to connect to all addresses"), never on a connection that worked.
_CONNECT_FAILURE = "failed to connect to all addresses"
_TLS_SERVER_MARKERS = (
    "socket closed",
    "connection reset",
    "tls alert",
)


_C = TypeVar("_C", bound=type)


def _public(cls: _C) -> _C:
    """Makes a class print under the package (``fpgascore.UntrustedCertificateError`` in a
    ``repr`` or traceback) instead of the private module that defines it. Pickling still
    works: the package exports every such class under the same name."""
    cls.__module__ = "fpgascore"
    return cls


@_public
class ScoringError(Exception):
    """Base of every error the client raises.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``).
        details: the server's (or the client's) message.
        request_id: the server's ``request-id`` for the failed call, ``""`` when none.
    """

    default_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, details: str, code: Optional[grpc.StatusCode] = None, request_id: str = "") -> None:
        self.code: grpc.StatusCode = code if code is not None else self.default_code
        self.details: str = details
        self.request_id: str = request_id
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.details}"
        if self.request_id:
            text += f" (request-id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code.name}, details={self.details!r}, "
                f"request_id={self.request_id!r})")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self.details, self.code, self.request_id))


def _rebuild(cls: Type[ScoringError], details: str, code: grpc.StatusCode, request_id: str) -> ScoringError:
    return cls(details, code, request_id)


@_public
class InvalidInputError(ScoringError, ValueError):
    """The request was rejected as invalid, locally before sending or by the server."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


@_public
class InvalidKeyError(InvalidInputError):
    """A configured key is empty or holds a character a header cannot carry (INVALID_ARGUMENT,
    at construction; the message names the problem, never the key)."""


@_public
class AuthenticationError(ScoringError):
    """The server did not accept the access key (UNAUTHENTICATED)."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


@_public
class PermissionDeniedError(ScoringError):
    """The key was accepted but may not do this (PERMISSION_DENIED)."""

    default_code = grpc.StatusCode.PERMISSION_DENIED


@_public
class UnavailableError(ScoringError):
    """The service could not be reached or is not serving (UNAVAILABLE)."""

    default_code = grpc.StatusCode.UNAVAILABLE


@_public
class UntrustedCertificateError(UnavailableError):
    """The TLS handshake failed: the server's certificate was not trusted (UNAVAILABLE)."""


@_public
class DeadlineExceededError(ScoringError, TimeoutError):
    """The call's deadline passed (DEADLINE_EXCEEDED)."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


@_public
class ResourceExhaustedError(ScoringError):
    """The server is overloaded or the message is too large (RESOURCE_EXHAUSTED)."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


@_public
class FailedPreconditionError(ScoringError):
    """The call cannot be made in the current state (FAILED_PRECONDITION)."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION


@_public
class InsecureKeyError(FailedPreconditionError):
    """A key was configured without TLS and without ``allow_insecure_key=True``."""


@_public
class InternalError(ScoringError):
    """The server failed, or its response was not what the contract says (INTERNAL)."""

    default_code = grpc.StatusCode.INTERNAL


@_public
class NonFiniteScoreError(InternalError):
    """The server's answer holds a NaN or infinite score (INTERNAL). ``image_index`` and
    ``class_index`` locate the first one (row-major); ``-1`` when unknown."""

    def __init__(self, details: str, code: Optional[grpc.StatusCode] = None, request_id: str = "",
                 image_index: int = -1, class_index: int = -1) -> None:
        self.image_index = image_index
        self.class_index = class_index
        super().__init__(details, code, request_id)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.details, self.code, self.request_id, self.image_index, self.class_index))


@_public
class NotFoundError(ScoringError):
    """What the call names does not exist (NOT_FOUND): for the deployment client, a service
    or a model that is not registered."""

    default_code = grpc.StatusCode.NOT_FOUND


@_public
class ModelNotFoundError(NotFoundError):
    """The server does not serve the model (or version) asked for (NOT_FOUND)."""


@_public
class AlreadyExistsError(ScoringError):
    """What the call would create exists already, e.g. a service of that name (ALREADY_EXISTS)."""

    default_code = grpc.StatusCode.ALREADY_EXISTS


@_public
class UnimplementedError(ScoringError):
    """The server does not implement this (UNIMPLEMENTED)."""

    default_code = grpc.StatusCode.UNIMPLEMENTED


@_public
class CancelledError(ScoringError):
    """The call was cancelled (CANCELLED)."""

    default_code = grpc.StatusCode.CANCELLED


_BY_CODE: Mapping[Any, Type[ScoringError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}

Metadata = Optional[Sequence[Tuple[str, Any]]]


def metadata_value(metadata: Metadata, key: str) -> Optional[str]:
    """The first value of ``key`` in gRPC metadata, as text; None when absent."""
    for item in metadata or ():
        k, v = item[0], item[1]
        if k == key:
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return None


def request_id_of(*metadatas: Metadata) -> str:
    """The ``request-id`` from the first metadata that has it (trailing, then initial)."""
    for metadata in metadatas:
        value = metadata_value(metadata, REQUEST_ID_KEY)
        if value:
            return value
    return ""


def redact(text: str, secrets: Iterable[Optional[str]]) -> str:
    """``text`` with every occurrence of a secret replaced by ``<redacted>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def is_certificate_failure(code: grpc.StatusCode, details: str) -> bool:
    """Whether an UNAVAILABLE error is a failed TLS handshake (certificate not trusted)."""
    if code != grpc.StatusCode.UNAVAILABLE:
        return False
    lowered = details.lower()
    return any(marker in lowered for marker in _CERTIFICATE_MARKERS)


def tls_mismatch(code: grpc.StatusCode, details: str, use_ssl: Optional[bool] = None) -> Optional[str]:
    """The client's own message for a connection that failed because one side speaks TLS and
    the other does not, else None. ``use_ssl`` is the client's setting (None: unknown, then
    only the unambiguous TLS-to-plaintext failure is recognised)."""
    if code != grpc.StatusCode.UNAVAILABLE:
        return None
    lowered = details.lower()
    if use_ssl is not False and any(marker in lowered for marker in _PLAINTEXT_SERVER_MARKERS):
        return (f"{NOT_TLS} (the TLS handshake got a plaintext answer): connect without TLS, "
                f"use_ssl=False ({details})")
    if use_ssl is False and _CONNECT_FAILURE in lowered and any(m in lowered for m in _TLS_SERVER_MARKERS):
        return (f"{SPEAKS_TLS} (it closed the plaintext connection before HTTP/2 began): connect with TLS, "
                f"use_ssl=True ({details})")
    return None


def never_retried(error: ScoringError) -> bool:
    """Whether an error is one that waiting does not change, whatever the retry policy says:
    an untrusted certificate, or a TLS/plaintext mismatch (conformance/CLIENT_SPEC.md)."""
    if isinstance(error, UntrustedCertificateError):
        return True
    return error.code == grpc.StatusCode.UNAVAILABLE and error.details.startswith((NOT_TLS, SPEAKS_TLS))


def error_for(code: grpc.StatusCode, details: str, request_id: str = "",
              secrets: Iterable[Optional[str]] = (),
              overrides: Optional[Mapping[grpc.StatusCode, Type[ScoringError]]] = None,
              use_ssl: Optional[bool] = None) -> ScoringError:
    """The ScoringError subclass for ``code`` (``overrides`` first), with the message redacted;
    a TLS/plaintext mismatch gets a message saying so (``use_ssl``: the client's setting)."""
    details = redact(details or "", secrets)
    if is_certificate_failure(code, details):
        return UntrustedCertificateError(
            f"{UNTRUSTED_CERTIFICATE}: the TLS handshake with the server failed ({details})",
            code, request_id)
    details = tls_mismatch(code, details, use_ssl) or details
    override = overrides.get(code) if overrides else None
    cls = override or _BY_CODE.get(code) or ScoringError
    return cls(details, code, request_id)


def from_rpc_error(exc: grpc.RpcError, secrets: Iterable[Optional[str]] = (),
                   overrides: Optional[Mapping[grpc.StatusCode, Type[ScoringError]]] = None,
                   use_ssl: Optional[bool] = None) -> ScoringError:
    """Converts a grpcio error (sync or asyncio) into a ScoringError."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    initial = exc.initial_metadata() if hasattr(exc, "initial_metadata") else None
    return error_for(code or grpc.StatusCode.UNKNOWN, details or "", request_id_of(trailing, initial), secrets,
                     overrides, use_ssl)
