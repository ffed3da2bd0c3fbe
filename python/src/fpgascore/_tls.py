"""Which root certificates a TLS channel trusts.

Explicit roots (PEM bytes or text, or a file path) replace the system roots. Without them,
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` names a file that replaces the system roots, as in
gRPC's C core. Otherwise the operating system's bundle is used (not grpcio's own copy of
Mozilla's roots), so a CA the administrator installed is trusted like everywhere else.
"""
from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Optional, Union

import grpc

__all__ = ["RootCertificates", "resolve_root_certificates", "channel_credentials", "ROOTS_ENV"]

ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"
RootCertificates = Union[bytes, str, "os.PathLike[str]", None]

_PEM_MARKER = b"-----BEGIN"


def _read(path: Union[str, "os.PathLike[str]"], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {what} {os.fspath(path)!r}: {exc.strerror or exc}") from None


def _system_roots() -> Optional[bytes]:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt",
                      "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if candidate and os.path.isfile(candidate):
            try:
                data = Path(candidate).read_bytes()
            except OSError:
                continue
            if _PEM_MARKER in data:
                return data
    return None  # let grpcio fall back to its own defaults


def resolve_root_certificates(root_certificates: RootCertificates = None) -> Optional[bytes]:
    """The PEM roots to trust: explicit ones, else the env var's file, else the system's."""
    if root_certificates is not None:
        if isinstance(root_certificates, (bytes, bytearray, memoryview)):
            data = bytes(root_certificates)
        elif isinstance(root_certificates, str) and _PEM_MARKER.decode() in root_certificates:
            data = root_certificates.encode("ascii")
        else:
            data = _read(root_certificates, "root certificates file")
        if _PEM_MARKER not in data:
            raise ValueError("root_certificates holds no PEM certificate")
        return data
    env_path = os.environ.get(ROOTS_ENV)
    if env_path:
        return _read(env_path, f"{ROOTS_ENV} file")
    return _system_roots()


def channel_credentials(root_certificates: RootCertificates = None) -> grpc.ChannelCredentials:
    """TLS channel credentials trusting the resolved roots."""
    return grpc.ssl_channel_credentials(root_certificates=resolve_root_certificates(root_certificates))
