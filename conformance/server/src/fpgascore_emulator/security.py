"""The service's security rule: TLS from a PEM chain and key; with TLS on (or --require-auth)
every call carries ``authorization`` equal to the primary or the secondary key, raw or as
``Bearer <key>`` (scheme case-insensitive), compared in constant time.

Keys come from files (re-read on reload) or from the environment; certificate and key files
are re-read on reload too, and new TLS handshakes use them. Both keys stay valid during a
rotation: replace the secondary, reload, move clients, then replace the primary.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import ssl
import tempfile
import threading
from typing import Iterable, Mapping, Optional, Tuple, Union, cast

import grpc

from .config import Settings
from .logs import log

PRIMARY_ENV = "FPGASCORE_PRIMARY_KEY"
SECONDARY_ENV = "FPGASCORE_SECONDARY_KEY"
_BEARER = "bearer "


def _read_key(path: Optional[str], environ: Mapping[str, str], env_name: str) -> Optional[bytes]:
    if path:
        with open(path, "rb") as handle:
            value = handle.read().strip()
    else:
        value = environ.get(env_name, "").strip().encode()
    return value or None


def authorization_of(metadata: Optional[Iterable[Tuple[str, Union[str, bytes]]]]) -> Optional[str]:
    """The call's ``authorization`` header (its first value), None when absent or binary."""
    for key, value in metadata or ():
        if key == "authorization":
            return value if isinstance(value, str) else None
    return None


def fingerprint(value: Optional[str]) -> Optional[str]:
    """A log-safe stand-in for a secret: the first 16 hex digits of its SHA-256."""
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()[:16]


class KeyStore:
    def __init__(self, settings: Settings, environ: Mapping[str, str] = os.environ) -> None:
        self._settings = settings
        self._environ = environ
        self._lock = threading.Lock()
        self._keys: Tuple[Tuple[Optional[bytes], bool], ...] = ((None, False), (None, False))
        self.reload()

    def reload(self) -> None:
        primary = _read_key(self._settings.primary_key_file, self._environ, PRIMARY_ENV)
        secondary = _read_key(self._settings.secondary_key_file, self._environ, SECONDARY_ENV)
        with self._lock:
            self._keys = ((primary, primary is not None), (secondary, secondary is not None))
        log("keys.loaded", primary=primary is not None, secondary=secondary is not None)

    @property
    def configured(self) -> bool:
        with self._lock:
            return any(is_set for _, is_set in self._keys)

    def accepts(self, authorization: Optional[str]) -> bool:
        """True when the header holds one of the keys. Constant time in the key contents."""
        presented = presented_key(authorization)
        if presented is None:
            return False
        with self._lock:
            slots = self._keys
        accepted = False
        for key, is_set in slots:  # every slot, no early exit
            matches = hmac.compare_digest(presented, cast(bytes, key) if is_set else secrets.token_bytes(32))
            accepted |= matches and is_set
        return accepted


def presented_key(authorization: Optional[str]) -> Optional[bytes]:
    """The key an ``authorization`` header presents: the raw value or ``Bearer <key>`` (scheme
    case-insensitive), surrounding whitespace dropped; None without a header."""
    if authorization is None:
        return None
    candidate = authorization.strip()
    if candidate[: len(_BEARER)].lower() == _BEARER:
        candidate = candidate[len(_BEARER):].strip()
    return candidate.encode()


class TlsError(ValueError):
    """The certificate chain or key does not load (not PEM, or the key does not match)."""


def check_tls_pair(chain: bytes, key: bytes) -> None:
    """Raises TlsError unless ``chain`` is a PEM certificate chain and ``key`` its private key
    (OpenSSL's own check, through the standard library). The reason never holds key material."""
    with tempfile.TemporaryDirectory(prefix="fpgascore-tls-check-") as directory:
        chain_path, key_path = os.path.join(directory, "chain.pem"), os.path.join(directory, "key.pem")
        for path, data in ((chain_path, chain), (key_path, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
                handle.write(data)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(chain_path, key_path)
        except ssl.SSLError as error:
            raise TlsError(f"certificate and key do not load together: {error.reason or error.strerror}") from None


class TlsFiles:
    """Server TLS credentials whose certificate chain and key are re-read on reload; a reload
    whose files do not load together keeps the material in use."""

    def __init__(self, cert_path: str, key_path: str) -> None:
        self._cert_path = cert_path
        self._key_path = key_path
        self._lock = threading.Lock()
        self._pending: Optional[grpc.ServerCertificateConfiguration] = None
        self._initial = self._load()

    def _load(self) -> grpc.ServerCertificateConfiguration:
        with open(self._key_path, "rb") as key_file, open(self._cert_path, "rb") as chain_file:
            key, chain = key_file.read(), chain_file.read()
        check_tls_pair(chain, key)
        return grpc.ssl_server_certificate_configuration([(key, chain)])

    def reload(self) -> None:
        """Swaps in the files' certificate and key for new handshakes; raises TlsError or
        OSError (and keeps the material in use) when they do not load."""
        configuration = self._load()
        with self._lock:
            self._pending = configuration
        log("tls.loaded", cert=self._cert_path)

    def _fetch(self) -> Optional[grpc.ServerCertificateConfiguration]:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(self._initial, self._fetch,
                                                   require_client_authentication=False)
