"""Test certificates made with ``cryptography``: a CA, a server certificate for localhost and
127.0.0.1 signed by it, and certificates a client must refuse (self-signed, wrong host, expired)."""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert(subject: str, key, issuer: Optional[Tuple[x509.Certificate, object]], sans: List[str],
          ca: bool = False, days: Tuple[int, int] = (-1, 30)) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        names: List[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(signing_key, hashes.SHA256())


@dataclass
class Pki:
    """Paths of the PEM files (``*_cert`` / ``*_key``) in ``root``."""

    root: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    self_signed_cert: Path
    self_signed_key: Path
    wrong_host_cert: Path
    wrong_host_key: Path
    expired_cert: Path
    expired_key: Path
    other_ca_cert: Path


def make_pki(root: Path) -> Pki:
    root.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _cert("fpgascore test CA", ca_key, None, [], ca=True, days=(-1, 365))
    other_ca_key = _key()
    other_ca = _cert("another CA", other_ca_key, None, [], ca=True, days=(-1, 365))
    files = {"ca_cert": ca.public_bytes(PEM), "other_ca_cert": other_ca.public_bytes(PEM)}

    def leaf(name: str, subject: str, sans: List[str], issuer, days=(-1, 30)) -> None:
        key = _key()
        cert = _cert(subject, key, issuer, sans, days=days)  # issuer None: self-signed
        files[f"{name}_cert"] = cert.public_bytes(PEM)
        files[f"{name}_key"] = _key_pem(key)

    leaf("server", "localhost", ["localhost", "127.0.0.1"], (ca, ca_key))
    leaf("self_signed", "localhost", ["localhost", "127.0.0.1"], None)
    leaf("wrong_host", "elsewhere.example", ["elsewhere.example"], (ca, ca_key))
    leaf("expired", "localhost", ["localhost", "127.0.0.1"], (ca, ca_key), days=(-30, -1))
    paths = {}
    for name, data in files.items():
        path = root / f"{name.replace('_cert', '.crt').replace('_key', '.key')}"
        path.write_bytes(data)
        paths[name] = path
    return Pki(root=root, **paths)
