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


@pytest.fixture(scope="session")
def image(engine):
    """The reference server's image, built from this checkout."""
    from fpgascore_conformance import emulator
    return emulator.build_image(engine)
