"""The options of a client, checked once at construction and shared by both clients."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from ._auth import KeyRing, check_transport
from ._channel import DEFAULT_MAX_RESPONSE_BYTES, ChannelOption, check_max_response_bytes, target_of
from ._errors import InvalidInputError
from ._retry import RetryPolicy
from ._tensors import INPUT_NAME, MODEL_NAME, OUTPUT_NAME, SIGNATURE_NAME
from ._tls import RootCertificates

__all__ = ["CallMetadata", "ClientConfig", "MetadataPairs", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 10.0
MetadataPairs = Sequence[Tuple[str, str]]
# Call metadata as a client takes it: (key, value) pairs, or a mapping.
CallMetadata = Union[MetadataPairs, Mapping[str, str]]


def normalize_metadata(metadata: Optional[CallMetadata]) -> Tuple[Tuple[str, str], ...]:
    """Metadata as lower-case ``(key, value)`` pairs; accepts pairs or a mapping."""
    if not metadata:
        return ()
    items = metadata.items() if hasattr(metadata, "items") else metadata
    pairs = []
    for key, value in items:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"metadata keys are non-empty strings, not {key!r}")
        if key.lower() == "authorization":
            # It would bypass the plaintext-key refusal and the key handling (failover, scheme).
            raise InvalidInputError("'authorization' comes from access_token; it cannot be given as metadata")
        pairs.append((key.lower(), value))
    return tuple(pairs)


def check_timeout(timeout: Optional[float], name: str = "timeout") -> Optional[float]:
    if timeout is None:
        return None
    value = float(timeout)
    if not value > 0 or math.isnan(value):
        raise ValueError(f"{name} must be a positive number of seconds, not {timeout!r}")
    return value


@dataclass
class ClientConfig:
    """Everything a client needs besides its channel. Never shows a key in its repr."""

    host: str
    port: int
    use_ssl: bool = False
    access_token: Optional[str] = field(default=None, repr=False)
    secondary_access_token: Optional[str] = field(default=None, repr=False)
    auth_scheme: str = "raw"
    allow_insecure_key: bool = False
    root_certificates: RootCertificates = field(default=None, repr=False)
    server_name_override: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    metadata: Optional[CallMetadata] = ()
    model_name: str = MODEL_NAME
    signature_name: str = SIGNATURE_NAME
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    channel_options: List[ChannelOption] = field(default_factory=list)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        self.target = target_of(self.host, self.port)
        self.timeout = check_timeout(self.timeout) or DEFAULT_TIMEOUT
        self.max_response_bytes = check_max_response_bytes(self.max_response_bytes)
        for name in ("model_name", "signature_name", "input_name", "output_name"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.retry_policy, RetryPolicy):
            raise TypeError("retry_policy must be a fpgascore.RetryPolicy")
        if not self.use_ssl and (self.root_certificates is not None or self.server_name_override):
            raise ValueError("root_certificates and server_name_override need use_ssl=True")
        self.keys = KeyRing(self.access_token, self.secondary_access_token, self.auth_scheme)
        check_transport(self.keys.has_key, bool(self.use_ssl), bool(self.allow_insecure_key))
        self.metadata_pairs = normalize_metadata(self.metadata)
        # Drop the keys from the plain attributes: only the KeyRing holds them from here on.
        self.access_token = None
        self.secondary_access_token = None

    def call_metadata(self, key_index: int, extra: Optional[CallMetadata]) -> Tuple[Tuple[str, str], ...]:
        """Client metadata + per-call metadata + ``authorization`` for key ``key_index``."""
        pairs: Tuple[Tuple[str, str], ...] = self.metadata_pairs + normalize_metadata(extra)
        header = self.keys.header(key_index)
        return pairs + (header,) if header else pairs

    def describe(self) -> str:
        """A one-line description for reprs: no key, only whether there is one."""
        auth = "none"
        if self.keys.has_key:
            auth = f"{self.keys.scheme} key" + (" + secondary" if self.keys.has_secondary else "")
        return (f"target={self.target!r}, use_ssl={bool(self.use_ssl)}, auth={auth}, "
                f"timeout={self.timeout}, model={self.model_name!r}")
