"""Fresh TLS material for a test run, made with `cryptography`: a CA, a server certificate
it signs (SANs: localhost, 127.0.0.1 and any extra names), and the variants the conformance
cases need: self-signed, expired, wrong host, and one signed by a CA nobody trusts.

The one maker of test certificates: the Python, Go and C# tests all use it (Go and C# through
``scripts/make-dev-certs``, which runs ``python3 -m fpgascore_conformance.certs``), and so can
an application developer who wants a CA and a server certificate for localhost.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import ipaddress
import pathlib
import sys
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMES = ("localhost", "127.0.0.1")
WRONG_HOST = "wrong.example"  # the only name of the wrong-host certificate


@dataclasses.dataclass(frozen=True)
class CertPair:
    cert: pathlib.Path   # PEM chain: leaf first, then its issuer (if any)
    key: pathlib.Path    # PEM private key


@dataclasses.dataclass(frozen=True)
class TlsMaterial:
    ca: pathlib.Path            # the trusted root (PEM)
    server: CertPair            # signed by ca, valid for localhost/127.0.0.1/extra names
    self_signed: CertPair       # its own root: trusting self_signed.cert makes it valid
    expired: CertPair           # signed by ca, expired yesterday
    wrong_host: CertPair        # signed by ca, valid only for wrong.example
    untrusted: CertPair         # valid names, signed by another CA
    untrusted_ca: pathlib.Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: Any) -> bytes:  # Debian's cryptography stubs lack private_bytes
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    return pem


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: List[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _build(subject: str, key: ec.EllipticCurvePrivateKey, issuer_name: Optional[x509.Name],
           issuer_key: Optional[ec.EllipticCurvePrivateKey], *, ca: bool, names: Iterable[str] = (),
           not_before: datetime.datetime, not_after: datetime.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_name or name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(_san(names), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write(directory: pathlib.Path, stem: str, chain: bytes, key: ec.EllipticCurvePrivateKey) -> CertPair:
    pair = CertPair(directory / f"{stem}.pem", directory / f"{stem}-key.pem")
    pair.cert.write_bytes(chain)
    pair.key.write_bytes(_pem_key(key))
    pair.key.chmod(0o600)
    return pair


def make_tls_material(directory: pathlib.Path, extra_names: Iterable[str] = (), days: int = 2) -> TlsMaterial:
    """Writes a fresh set of PEM files into ``directory`` and returns their paths; all but the
    expired certificate are valid from an hour ago for ``days`` days."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
    names = list(DEFAULT_NAMES) + list(extra_names)

    def authority(label: str) -> Tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _key()
        cert = _build(f"fpgascore test {label}", key, None, None, ca=True, not_before=start, not_after=end)
        return cert, key

    ca_cert, ca_key = authority("CA")
    other_cert, other_key = authority("untrusted CA")
    (directory / "ca.pem").write_bytes(_pem(ca_cert))
    (directory / "untrusted-ca.pem").write_bytes(_pem(other_cert))

    def leaf(stem: str, issuer: Optional[x509.Certificate], issuer_key: Optional[ec.EllipticCurvePrivateKey],
             leaf_names: List[str], not_before: datetime.datetime = start,
             not_after: datetime.datetime = end) -> CertPair:
        key = _key()
        cert = _build(leaf_names[0], key, issuer.subject if issuer else None, issuer_key, ca=False,
                      names=leaf_names, not_before=not_before, not_after=not_after)
        chain = _pem(cert) + (_pem(issuer) if issuer else b"")
        return _write(directory, stem, chain, key)

    return TlsMaterial(
        ca=directory / "ca.pem",
        server=leaf("server", ca_cert, ca_key, names),
        self_signed=leaf("self-signed", None, None, names),
        expired=leaf("expired", ca_cert, ca_key, names, not_before=now - datetime.timedelta(days=3),
                     not_after=now - datetime.timedelta(days=1)),
        wrong_host=leaf("wrong-host", ca_cert, ca_key, [WRONG_HOST]),
        untrusted=leaf("untrusted", other_cert, other_key, names),
        untrusted_ca=directory / "untrusted-ca.pem",
    )


def describe(material: TlsMaterial, names: Iterable[str]) -> List[Tuple[pathlib.Path, str]]:
    """(file, what it is) for every file make_tls_material wrote."""
    valid = ", ".join(names)
    rows = [(material.ca, "the CA: trust this one (a client's root certificates)")]
    for pair, what in ((material.server, f"server certificate (then the CA) for {valid}, signed by ca.pem"),
                       (material.self_signed, f"self-signed certificate for {valid} (its own root)"),
                       (material.expired, f"certificate for {valid} signed by ca.pem, expired yesterday"),
                       (material.wrong_host, f"certificate for {WRONG_HOST} only, signed by ca.pem"),
                       (material.untrusted, f"certificate for {valid} signed by untrusted-ca.pem")):
        rows += [(pair.cert, what), (pair.key, "its private key (0600)")]
    rows.append((material.untrusted_ca, "a CA that signed only untrusted.pem"))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make-dev-certs",
        description="Writes a fresh test CA and certificates into DIR (PEM, EC P-256): a server certificate "
                    "signed by the CA for localhost and 127.0.0.1 (and every --name), and the certificates a "
                    "client must refuse (self-signed, expired, wrong host, signed by another CA). Files of an "
                    "earlier run in DIR are replaced.",
        epilog="Serve with the server certificate and trust the CA, e.g.: "
               "scripts/run-emulator serve --port 50051 --tls-cert DIR/server.pem --tls-key DIR/server-key.pem, "
               "then a client with root certificates DIR/ca.pem. For tests and development only.")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (made if missing)")
    parser.add_argument("--name", action="append", default=[], metavar="HOST",
                        help="another DNS name or IP address for the server certificate (repeatable)")
    parser.add_argument("--days", type=int, default=30, help="how long the certificates are valid (default 30)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    out = pathlib.Path(args.out).resolve()
    material = make_tls_material(out, args.name, days=args.days)
    print(f"certificates in {out} (valid {args.days} days):")
    for path, what in describe(material, [*DEFAULT_NAMES, *args.name]):
        print(f"  {path.name:22} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
