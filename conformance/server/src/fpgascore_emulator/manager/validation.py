"""What the manager checks before it starts anything: names, keys, and TLS material (with
``cryptography``, then OpenSSL's own load through the reference server's check). Every
message names the problem; none holds a key or PEM material."""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from typing import List, Optional

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..limits import bounded
from ..security import TlsError, check_tls_pair
from .errors import InvalidArgument

# A DNS label (RFC 1035's preferred form, lower case): what a service name may be, so that it
# can become a host name, a container name and a Kubernetes object name unchanged.
SERVICE_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 256
_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"
_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def shown(text: str, limit: int = 80) -> str:
    """A user-given name, quoted and bounded, for a message."""
    return repr(bounded(text, limit))


def check_service_name(name: str) -> str:
    if not SERVICE_NAME.fullmatch(name or ""):
        raise InvalidArgument(
            f"service name {shown(name or '')} is not DNS-safe: use 1 to 63 lower-case letters, digits "
            f"and '-', starting with a letter and not ending with '-'")
    return name


def check_model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name or ""):
        raise InvalidArgument(
            f"model name {shown(name or '')} is not valid: use 1 to 63 letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit")
    return name


def check_key(field: str, value: str) -> str:
    """A key given by the caller: printable ASCII without spaces, 16 to 256 characters."""
    key = value.strip()
    for position, char in enumerate(key):
        if not "!" <= char <= "~":
            raise InvalidArgument(f"{field} holds a character that is not printable ASCII or is a space "
                                  f"(at position {position + 1}); a key is sent as a header value")
    if not MIN_KEY_CHARS <= len(key) <= MAX_KEY_CHARS:
        raise InvalidArgument(f"{field} has {len(key)} characters: give {MIN_KEY_CHARS} to {MAX_KEY_CHARS}, "
                              f"or none to have one generated")
    return key


@dataclasses.dataclass(frozen=True)
class CertificateInfo:
    sha256: str                     # of the leaf certificate's DER
    not_after: datetime.datetime    # UTC, naive (cryptography 38's convention)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def check_tls(certificate_pem: str, key_pem: str, now: Optional[datetime.datetime] = None) -> CertificateInfo:
    """Raises InvalidArgument unless ``certificate_pem`` is a PEM chain (leaf first) that is
    valid now and ``key_pem`` the unencrypted private key of its leaf."""
    if not certificate_pem.strip():
        raise InvalidArgument("ssl_enabled needs ssl_certificate (a PEM certificate chain) and ssl_key")
    if not key_pem.strip():
        raise InvalidArgument("ssl_certificate needs its private key in ssl_key (PEM)")
    blocks = _CERT_BLOCK.findall(certificate_pem)
    if not blocks:
        what = "a private key" if "PRIVATE KEY-----" in certificate_pem else "no PEM block"
        raise InvalidArgument(f"ssl_certificate is not a PEM certificate: it holds {what}, "
                              f"not '{_CERT_BEGIN}'")
    chain: List[x509.Certificate] = []
    for index, block in enumerate(blocks):
        try:
            chain.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise InvalidArgument(f"ssl_certificate is not a PEM certificate: certificate {index + 1} of "
                                  f"{len(blocks)} does not parse") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii", "replace"), password=None)
    except TypeError:
        raise InvalidArgument("ssl_key is encrypted: give the private key unencrypted (PEM)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgument("ssl_key is not a PEM private key") from None
    leaf = chain[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise InvalidArgument("ssl_key does not match ssl_certificate: it is not the private key of the first "
                              "(leaf) certificate")
    now = now or _now()
    if leaf.not_valid_after < now:
        raise InvalidArgument(f"ssl_certificate expired on {leaf.not_valid_after.isoformat()}Z")
    if leaf.not_valid_before > now:
        raise InvalidArgument(f"ssl_certificate is not valid before {leaf.not_valid_before.isoformat()}Z")
    try:  # what the reference server will do with it: OpenSSL's load of chain and key
        check_tls_pair(certificate_pem.encode("ascii", "replace"), key_pem.encode("ascii", "replace"))
    except TlsError as error:
        raise InvalidArgument(f"ssl_certificate / ssl_key: {error}") from None
    der = leaf.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(hashlib.sha256(der).hexdigest(), leaf.not_valid_after)


def certificate_info(certificate_pem: str) -> CertificateInfo:
    """The fingerprint and expiry of a chain's leaf (a chain check_tls accepted)."""
    leaf = x509.load_pem_x509_certificate(_CERT_BLOCK.findall(certificate_pem)[0].encode("ascii"))
    return CertificateInfo(hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
                           leaf.not_valid_after)
