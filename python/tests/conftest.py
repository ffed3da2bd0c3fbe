"""Fixtures: test PKI, the reference server (subprocess) in several configurations, and an
in-process fake server for injected failures."""
from __future__ import annotations

import secrets
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
for path in (str(SRC), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from pki import Pki, make_pki  # noqa: E402
from servers import REPO, RUN_EMULATOR, Emulator, FakeServer, start_emulator, start_fake  # noqa: E402

IMAGES = REPO / "conformance" / "testdata" / "images"
VECTORS = REPO / "tests" / "vectors"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator: needs the reference server (scripts/run-emulator)")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def keys() -> dict:
    """Random primary and secondary keys for this test session."""
    return {"primary": "pk-" + secrets.token_hex(16), "secondary": "sk-" + secrets.token_hex(16)}


def _need_emulator() -> None:
    if not RUN_EMULATOR.exists():
        pytest.fail(f"the reference server is missing: {RUN_EMULATOR}")


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory, pki: Pki, keys: dict) -> Iterator[Emulator]:
    """TLS (certificate for localhost/127.0.0.1 from the test CA), both keys, conformance controls."""
    _need_emulator()
    server = start_emulator(tmp_path_factory.mktemp("tls-server"), tls=(pki.server_cert, pki.server_key),
                            primary_key=keys["primary"], secondary_key=keys["secondary"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_server(tmp_path_factory) -> Iterator[Emulator]:
    """Plaintext, no auth, conformance controls."""
    _need_emulator()
    server = start_emulator(tmp_path_factory.mktemp("plain-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_auth_server(tmp_path_factory, keys: dict) -> Iterator[Emulator]:
    """Plaintext with --require-auth and both keys (for allow_insecure_key)."""
    _need_emulator()
    server = start_emulator(tmp_path_factory.mktemp("plain-auth-server"), primary_key=keys["primary"],
                            secondary_key=keys["secondary"], require_auth=True)
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["self_signed", "wrong_host", "expired", "other_ca"])
def bad_cert_server(request, tmp_path_factory, pki: Pki, keys: dict) -> Iterator[Emulator]:
    """A TLS server whose certificate the client must refuse (trusting only the test CA)."""
    _need_emulator()
    name = request.param
    if name == "other_ca":  # a valid certificate, but the client trusts only another CA
        cert, key = pki.server_cert, pki.server_key
    else:
        cert, key = getattr(pki, f"{name}_cert"), getattr(pki, f"{name}_key")
    server = start_emulator(tmp_path_factory.mktemp(f"bad-{name}"), tls=(cert, key), primary_key=keys["primary"])
    server.kind = name  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = start_fake()
    yield server
    server.server.stop(grace=None)


@pytest.fixture
def case_id(request) -> str:
    """A unique x-conformance-case id for this test."""
    return f"pytest/{request.node.name}/{uuid.uuid4().hex[:8]}"


@pytest.fixture
def image_path() -> Path:
    return IMAGES / "gradient.jpg"
