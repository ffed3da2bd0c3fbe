"""scripts/make-dev-certs, the one maker of test certificates (the Python, Go and C# tests and
the README's Lifecycle use it): what it writes and lists, and that the reference server serves
its server certificate to a client that trusts its CA, and only its CA."""
import stat
import subprocess

import grpc
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

SCRIPT = rpc.ROOT / "scripts" / "make-dev-certs"
KEY = "dev-certs-key-5c1e"
STEMS = ("server", "self-signed", "expired", "wrong-host", "untrusted")
FILES = ["ca.pem", "untrusted-ca.pem"] + [stem + end for stem in STEMS for end in (".pem", "-key.pem")]


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("dev-certs") / "tls"  # a folder it has to make
    result = make("--out", str(out), "--name", "scoring.test")
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.fixture(scope="module")
def server(made):
    out, _ = made
    with EmulatorProcess(ServerConfig(tls_cert=out / "server.pem", tls_key=out / "server-key.pem",
                                      primary_key=KEY)) as running:
        yield running


def test_it_writes_every_file_and_lists_it(made):
    out, listing = made
    lines = listing.splitlines()
    assert lines[0] == f"certificates in {out} (valid 30 days):"
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(FILES) == sorted(p.name for p in out.iterdir())
    for name in FILES:
        if name.endswith("-key.pem"):
            assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize("host, server_name", [("127.0.0.1", None), ("localhost", None), ("127.0.0.1", "scoring.test")])
def test_the_server_certificate_is_trusted_through_the_ca_for_every_name(made, server, host, server_name):
    out, _ = made
    caller = rpc.secure(f"{host}:{server.port}", out / "ca.pem", server_name)
    response, _ = caller.predict(rpc.image_request([rpc.image("gradient.jpg")]), [("authorization", KEY)])
    assert [d.size for d in response.outputs["output_alias"].tensor_shape.dim] == [1, 1000]


@pytest.mark.parametrize("roots, server_name", [("untrusted-ca.pem", None), ("ca.pem", "elsewhere.test")])
def test_another_ca_or_another_name_is_refused(made, server, roots, server_name):
    out, _ = made
    error = rpc.secure(f"127.0.0.1:{server.port}", out / roots, server_name).error(
        rpc.image_request([rpc.image("gradient.jpg")]), [("authorization", KEY)], timeout=10)
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_help_and_usage():
    helped = make("--help")
    assert helped.returncode == 0 and "--out DIR" in helped.stdout and "--name HOST" in helped.stdout
    missing = make()
    assert missing.returncode == 2 and "--out" in missing.stderr
