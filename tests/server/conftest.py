import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc


@pytest.fixture(scope="module")
def plain_server():
    """A plaintext server with conformance controls, shared by a module's tests."""
    with EmulatorProcess(ServerConfig(conformance=True)) as server:
        yield server


@pytest.fixture(scope="module")
def caller(plain_server):
    return rpc.plaintext(plain_server.target)
