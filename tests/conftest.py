"""Shared pytest setup for the cross-cutting tests (server, container, wire vectors)."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in ("python/src", "conformance/server/src", "conformance/runner/src"):
    if str(ROOT / path) not in sys.path:
        sys.path.insert(0, str(ROOT / path))

import pytest  # noqa: E402

from fpgascore_conformance.certs import make_tls_material  # noqa: E402


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """Fresh certificates for the whole session (CA, server, self-signed, expired, ...)."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))


