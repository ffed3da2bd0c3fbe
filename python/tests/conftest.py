"""Fixtures: test PKI and the reference server (a subprocess, in several configurations) from
the conformance runner's kit (fpgascore_conformance.certs and .emulator, as tests/ uses them),
and an in-process fake server for injected failures."""
from __future__ import annotations

import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SRC = HERE.parent / "src"
for path in (str(SRC), str(REPO / "conformance" / "runner" / "src"), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from fake_server import FakeServer, start_fake  # noqa: E402
from fpgascore_conformance.certs import TlsMaterial, make_tls_material  # noqa: E402
from fpgascore_conformance.emulator import RUN_EMULATOR, EmulatorProcess, ServerConfig  # noqa: E402

IMAGES = REPO / "conformance" / "testdata" / "images"
VECTORS = REPO / "tests" / "vectors"
PYTHON = os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")  # for the tests' subprocesses


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator: needs the reference server (scripts/run-emulator)")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """Fresh certificates for the session: ca, server, self_signed, expired, wrong_host, untrusted(_ca)."""
    return make_tls_material(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def keys() -> dict:
    """Random primary and secondary keys for this test session."""
    return {"primary": "pk-" + secrets.token_hex(16), "secondary": "sk-" + secrets.token_hex(16)}


def start_emulator(**settings) -> EmulatorProcess:
    """Starts the reference server (scripts/run-emulator serve --port 0 --port-file ...) on loopback
    with conformance controls and ServerConfig(**settings)."""
    if not RUN_EMULATOR.exists():
        pytest.fail(f"the reference server is missing: {RUN_EMULATOR}")
    server = EmulatorProcess(ServerConfig(**settings))
    server.start()
    return server


@pytest.fixture(scope="session")
def tls_server(pki: TlsMaterial, keys: dict) -> Iterator[EmulatorProcess]:
    """TLS (certificate for localhost/127.0.0.1 from the test CA), both keys, conformance controls."""
    server = start_emulator(tls_cert=pki.server.cert, tls_key=pki.server.key,
                            primary_key=keys["primary"], secondary_key=keys["secondary"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_server() -> Iterator[EmulatorProcess]:
    """Plaintext, no auth, conformance controls."""
    server = start_emulator()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_auth_server(keys: dict) -> Iterator[EmulatorProcess]:
    """Plaintext with --require-auth and both keys (for allow_insecure_key)."""
    server = start_emulator(primary_key=keys["primary"], secondary_key=keys["secondary"], require_auth=True)
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["self_signed", "wrong_host", "expired", "other_ca"])
def bad_cert_server(request, pki: TlsMaterial, keys: dict) -> Iterator[EmulatorProcess]:
    """A TLS server whose certificate the client must refuse (trusting only the test CA)."""
    name = request.param
    # other_ca: a valid certificate, but the client trusts only another CA
    pair = pki.server if name == "other_ca" else getattr(pki, name)
    server = start_emulator(tls_cert=pair.cert, tls_key=pair.key, primary_key=keys["primary"])
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
