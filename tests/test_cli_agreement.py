"""The three command-line programs agree (issue #19): the same command line gives the same exit
code, the same streams and the same JSON document in Python, Go and C#, against real reference
servers (conformance/CLIENT_SPEC.md, "Command line").

    PYTHONPATH=$PWD/python/src:$PWD/conformance/server/src:$PWD/conformance/runner/src \\
        /usr/bin/python3 -B -m pytest -p no:cacheprovider tests/test_cli_agreement.py -q

Each CLI is built once per module (Go: ``go build`` with scripts/go-env.sh; C#: ``dotnet build``
of csharp/FpgaScore.Cli, Debug, as the other suites build it); Python runs as ``python3 -m fpgascore``.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence

import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGES = ROOT / "conformance" / "testdata" / "images"
GOLDEN = json.loads((ROOT / "conformance" / "testdata" / "golden.json").read_text())
VERSION = (ROOT / "VERSION").read_text().strip()
KEY = "cli-agreement-key-51c0"
KEY_VAR = "FPGASCORE_CLI_AGREEMENT_KEY"
WRONG_VAR = "FPGASCORE_CLI_AGREEMENT_WRONG_KEY"
LANGUAGES = ("python", "go", "csharp")

pytestmark = pytest.mark.timeout(600)


class Result(NamedTuple):
    code: int
    stdout: str
    stderr: str


class Cli:
    """One language's command: ``run(*args)`` runs it with ``args`` after the program."""

    def __init__(self, language: str, command: Sequence[str], env: Dict[str, str]) -> None:
        self.language, self.command, self.env = language, list(command), env

    def run(self, *args: str) -> Result:
        done = subprocess.run([*self.command, *args], env=self.env, capture_output=True, text=True, timeout=120)
        return Result(done.returncode, done.stdout, done.stderr)


def _base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}  # the CLIs quiet grpc core themselves
    env.update({KEY_VAR: KEY, WRONG_VAR: "wrong-" + KEY, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"})
    return env


def _build_go(directory: pathlib.Path) -> List[str]:
    if not (ROOT / "scripts" / "go-env.sh").exists() or shutil.which("bash") is None:
        pytest.skip("no scripts/go-env.sh")
    binary = directory / "fpgascore"
    script = f'source scripts/go-env.sh && cd go && go build -o "{binary}" ./cmd/fpgascore'
    build = subprocess.run(["bash", "-c", script],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"go build failed:\n{build.stdout}\n{build.stderr}"
    return [str(binary)]


def _build_csharp() -> List[str]:
    if shutil.which("dotnet") is None:
        pytest.skip("no dotnet")
    # The Debug build the lint and C# suites make of csharp/ (one at a time: scripts/shims/dotnet), so
    # in a run of every suite this build finds it done.
    build = subprocess.run(["dotnet", "build", "csharp/FpgaScore.Cli", "--verbosity", "quiet", "-nologo"],
                           cwd=ROOT, capture_output=True, text=True, timeout=900, env=_base_env())
    assert build.returncode == 0, f"dotnet build failed:\n{build.stdout}\n{build.stderr}"
    return ["dotnet", str(ROOT / "csharp" / "FpgaScore.Cli" / "bin" / "Debug" / "net10.0" / "FpgaScore.Cli.dll")]


@pytest.fixture(scope="module")
def clis(tmp_path_factory) -> Dict[str, Cli]:
    env = _base_env()
    python_env = dict(env, PYTHONPATH=str(ROOT / "python" / "src"))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        go = pool.submit(_build_go, tmp_path_factory.mktemp("go-cli"))
        csharp = pool.submit(_build_csharp)
        commands = {"python": [sys.executable, "-B", "-m", "fpgascore"], "go": go.result(), "csharp": csharp.result()}
    return {language: Cli(language, commands[language], python_env if language == "python" else env)
            for language in LANGUAGES}


@pytest.fixture(scope="module")
def plain_server():
    with EmulatorProcess(ServerConfig()) as server:
        yield server


@pytest.fixture(scope="module")
def tls_server(tls):
    with EmulatorProcess(ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_all(clis: Dict[str, Cli], *args: str) -> Dict[str, Result]:
    """The same command line in the three languages, at once."""
    with concurrent.futures.ThreadPoolExecutor(len(clis)) as pool:
        futures = {language: pool.submit(cli.run, *args) for language, cli in clis.items()}
        return {language: future.result() for language, future in futures.items()}


def codes(results: Dict[str, Result]) -> Dict[str, int]:
    return {language: result.code for language, result in results.items()}


def explain(results: Dict[str, Result]) -> str:
    return "\n".join(f"--- {language}: exit {r.code}\nstdout: {r.stdout[-1500:]}\nstderr: {r.stderr[-1500:]}"
                     for language, r in results.items())


def expect(results: Dict[str, Result], code: int, stderr_has: Optional[str] = None) -> None:
    assert codes(results) == {language: code for language in LANGUAGES}, explain(results)
    if stderr_has is not None:
        for language, result in results.items():
            assert stderr_has in result.stderr, f"{language}: stderr lacks {stderr_has!r}\n{explain(results)}"


IMAGE = str(IMAGES / "gradient.jpg")
SECOND = str(IMAGES / "rings.jpg")


# -- usage and configuration: exit 2 ---------------------------------------------------------

@pytest.mark.parametrize("args", [
    pytest.param(["score", "--nope", IMAGE], id="unknown-flag"),
    pytest.param(["score", IMAGE, "--nope"], id="unknown-flag-after-path"),
    pytest.param(["score", "--timeout", "0", IMAGE], id="timeout-0"),
    pytest.param(["score", "--timeout", "-1", IMAGE], id="timeout-negative"),
    pytest.param(["score", "--timeout", "10s", IMAGE], id="timeout-not-seconds"),
    pytest.param(["score", "--port", "x", IMAGE], id="port-not-a-number"),
    pytest.param(["score", "--port", "70000", IMAGE], id="port-too-large"),
    pytest.param(["score", "--top", "0", IMAGE], id="top-0"),
    pytest.param(["score", "--batch-size", "0", IMAGE], id="batch-size-0"),
    pytest.param(["score", "--retries", "0", IMAGE], id="retries-0"),
    pytest.param(["score"], id="no-image"),
    pytest.param([], id="no-command"),
    pytest.param(["dance"], id="unknown-command"),
    pytest.param(["score", "--key-env", "FPGASCORE_CLI_AGREEMENT_UNSET", IMAGE], id="key-variable-unset"),
])
def test_usage_errors_exit_2_on_stderr(clis, closed_port, args):
    port = ["--port", str(closed_port)] if args[:1] == ["score"] and "--port" not in args else []
    results = run_all(clis, *args[:1], *port, *args[1:])
    expect(results, 2)
    for language, result in results.items():
        assert result.stdout == "" and result.stderr.strip(), f"{language}\n{explain(results)}"


def test_a_key_without_tls_is_a_usage_error_naming_the_flags(clis, plain_server):
    results = run_all(clis, "score", "--port", str(plain_server.port), "--key-env", KEY_VAR, IMAGE)
    expect(results, 2, "--allow-insecure-key")
    expect(results, 2, "--ssl")
    for result in results.values():
        assert KEY not in result.stdout + result.stderr
    # With the allow flag the key goes out (the plaintext server does not need one): exit 0.
    expect(run_all(clis, "score", "--port", str(plain_server.port), "--key-env", KEY_VAR, "--allow-insecure-key",
                   IMAGE), 0)


# -- help and version: stdout, exit 0 --------------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["score", "--help"], ["-h"], ["score", "-h"]], ids=" ".join)
def test_help_goes_to_stdout_with_exit_0(clis, args):
    results = run_all(clis, *args)
    expect(results, 0)
    for language, result in results.items():
        assert "usage" in result.stdout.lower() and "score" in result.stdout, f"{language}\n{explain(results)}"
    for flag in ("--timeout", "--top", "--batch-size", "--json", "--key-env", "--allow-insecure-key"):
        for language in ("go", "csharp"):
            if args[0] == "score":
                assert flag in results[language].stdout, f"{language} help lacks {flag}"


@pytest.mark.parametrize("args", [["--version"], ["score", "--version"]], ids=" ".join)
def test_version_goes_to_stdout_with_exit_0(clis, args):
    results = run_all(clis, *args)
    expect(results, 0)
    for language, result in results.items():
        assert (result.stdout, result.stderr) == (f"fpgascore {VERSION}\n", ""), f"{language}\n{explain(results)}"


# -- service and input failures: exit 1 ------------------------------------------------------

def test_a_missing_image_exits_1_and_is_an_error_in_the_json(clis, plain_server, tmp_path):
    missing = str(tmp_path / "missing.jpg")
    results = run_all(clis, "score", "--port", str(plain_server.port), IMAGE, missing, SECOND, "--json")
    expect(results, 1, "no such file")
    documents = {language: json.loads(result.stdout) for language, result in results.items()}
    for language, document in documents.items():
        assert document == {"results": [{"image": missing, "error": {
            "code": "INVALID_ARGUMENT", "message": f"cannot read '{missing}': no such file", "request_id": ""}}],
            "not_scored": [IMAGE, SECOND]}, language


def test_a_server_that_is_down_exits_1(clis, closed_port):
    results = run_all(clis, "score", "--port", str(closed_port), "--retries", "1", "--timeout", "5", IMAGE)
    expect(results, 1, "UNAVAILABLE")


def test_a_wrong_key_exits_1_with_the_error_in_the_json(clis, tls_server, tls):
    results = run_all(clis, "score", "--host", "localhost", "--port", str(tls_server.port), "--ca", str(tls.ca),
                      "--key-env", WRONG_VAR, "--json", IMAGE, SECOND)
    expect(results, 1, "UNAUTHENTICATED")
    for language, result in results.items():
        document = json.loads(result.stdout)
        assert set(document) == {"results", "not_scored"} and document["not_scored"] == [], language
        assert [entry["image"] for entry in document["results"]] == [IMAGE, SECOND], language
        for entry in document["results"]:
            assert set(entry) == {"image", "error"} and set(entry["error"]) == {"code", "message", "request_id"}
            assert entry["error"]["code"] == "UNAUTHENTICATED"
            assert re.fullmatch("[0-9a-f]{32}", entry["error"]["request_id"])
        assert KEY not in result.stdout + result.stderr


def test_an_untrusted_certificate_exits_1_without_grpc_core_log_lines(clis, tls_server, tls):
    results = run_all(clis, "score", "--host", "localhost", "--port", str(tls_server.port),
                      "--ca", str(tls.untrusted_ca), "--retries", "1", IMAGE)
    expect(results, 1)
    for language, result in results.items():
        assert "Handshake failed" not in result.stderr and "ssl_transport_security" not in result.stderr, \
            f"{language}: grpc core's log line reached the user\n{explain(results)}"


# -- success -----------------------------------------------------------------------------

def test_success_over_tls_with_a_key(clis, tls_server, tls):
    results = run_all(clis, "score", "--host", "localhost", "--port", str(tls_server.port), "--ca", str(tls.ca),
                      "--key-env", KEY_VAR, IMAGE)
    expect(results, 0)
    for language, result in results.items():
        assert result.stdout.splitlines()[0] == IMAGE and len(result.stdout.splitlines()) == 6, language


def test_timeouts_are_decimal_seconds(clis, plain_server):
    # A decimal number of seconds, long enough for a CI machine busy with other suites.
    expect(run_all(clis, "score", "--port", str(plain_server.port), "--timeout", "20.5", IMAGE), 0)
    results = run_all(clis, "score", "--port", str(plain_server.port), "--timeout", "0.001", "--retries", "1", IMAGE)
    for language, result in results.items():  # accepted: scored, or the deadline was too short; never usage
        assert result.code == 0 or (result.code == 1 and "DEADLINE_EXCEEDED" in result.stderr), \
            f"{language}\n{explain(results)}"


def test_flags_after_the_image_paths(clis, plain_server):
    results = run_all(clis, "score", IMAGE, "--port", str(plain_server.port), "--top", "3", SECOND, "--json")
    expect(results, 0)
    for language, result in results.items():
        document = json.loads(result.stdout)
        assert [entry["image"] for entry in document["results"]] == [IMAGE, SECOND], language
        assert [len(entry["top_k"]) for entry in document["results"]] == [3, 3], language
    results = run_all(clis, "score", f"--port={plain_server.port}", IMAGE, "--top-k=2")
    expect(results, 0)
    for language, result in results.items():
        assert len(result.stdout.splitlines()) == 3, f"{language}\n{explain(results)}"


def test_one_json_shape(clis, plain_server):
    names = ["gradient.jpg", "rings.jpg", "checkerboard.png"]
    images = [str(IMAGES / name) for name in names]
    results = run_all(clis, "score", "--port", str(plain_server.port), "--json", "--batch-size", "2", *images)
    expect(results, 0)
    documents = {language: json.loads(result.stdout) for language, result in results.items()}
    for language, document in documents.items():
        assert set(document) == {"results", "not_scored"} and document["not_scored"] == [], language
        entries = document["results"]
        assert [entry["image"] for entry in entries] == images, language
        for entry, name in zip(entries, names):
            assert set(entry) == {"image", "request_id", "top_k"}, language
            assert re.fullmatch("[0-9a-f]{32}", entry["request_id"]), language
            assert [set(p) for p in entry["top_k"]] == [{"class_id", "label", "score"}] * 5, language
            assert [p["class_id"] for p in entry["top_k"]] == [c for c, _ in GOLDEN[name]["top5"]], (language, name)
            assert all(isinstance(p["label"], str) and p["label"] for p in entry["top_k"]), language
        # Two calls (batch size 2): the first two images share a request id, the third has its own.
        assert entries[0]["request_id"] == entries[1]["request_id"] != entries[2]["request_id"], language

    def shape(document):
        return [(e["image"], [(p["class_id"], p["label"]) for p in e["top_k"]]) for e in document["results"]]

    assert shape(documents["python"]) == shape(documents["go"]) == shape(documents["csharp"])
    scores = {language: [p["score"] for e in document["results"] for p in e["top_k"]]
              for language, document in documents.items()}
    for language in ("go", "csharp"):
        assert scores[language] == pytest.approx(scores["python"], abs=1e-6), language
