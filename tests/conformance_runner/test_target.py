"""--target HOST:PORT: the suite against a server that is already running (here a reference
server started by hand NOT in conformance mode, as a real deployment would be): the cases
that need the reference server are skipped with the reason, the others are judged on the
client's answers alone, no server is started, and the target's keys never show in any output."""
from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

import pytest

from fpgascore_conformance.cases import load_cases, load_servers, needs_of
from fpgascore_conformance.certs import make_tls_material
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from .conftest import run_conformance

SCAN = "no-key-in-any-log"


@pytest.fixture
def server():
    started = []

    def start(config: ServerConfig) -> EmulatorProcess:
        process = EmulatorProcess(config)
        process.start()
        started.append(process)
        return process
    yield start
    for process in started:
        process.stop()


def expected(features):
    """case id -> True when a target with FEATURES (cases.TARGET_NEEDS met) runs it."""
    profiles = load_servers()
    return {case.id: set(needs_of(case, profiles[case.server])) <= set(features) for case in load_cases()}


def check(outcome, features, reference_reason):
    assert outcome.returncode == 0, outcome.stdout[-4000:]
    statuses = outcome.statuses("python")
    runs = expected(features)
    assert statuses.pop(SCAN) == "pass"
    assert set(statuses) == set(runs)
    wrong = {case: (status, outcome.results[("python", case)]["problems"]) for case, status in statuses.items()
             if status != ("pass" if runs[case] else "skip")}
    assert not wrong
    ran = [case for case, status in statuses.items() if status == "pass"]
    assert len(ran) >= 20, ran
    for case, status in statuses.items():
        if status == "skip":
            assert outcome.results[("python", case)]["problems"][0].startswith("needs ")
    for case, reason in reference_reason.items():
        assert statuses[case] == "skip"
        assert outcome.results[("python", case)]["problems"] == [reason]
    junit = ET.parse(outcome.directory / "junit.xml").getroot()[0]
    assert int(junit.get("skipped")) == sum(s == "skip" for s in statuses.values())
    assert int(junit.get("failures")) == 0
    assert "⏭️ skipped" in outcome.matrix
    assert f"python: {len(ran) + 1} passed, 0 failed, {len(statuses) - len(ran)} skipped" in outcome.stdout
    assert "[conformance] servers up" not in outcome.stdout and "emulator" not in outcome.stdout
    return ran


def test_plaintext_target(server, workdir, tmp_path):
    target = server(ServerConfig(conformance=False))
    outcome = run_conformance(["--target", f"127.0.0.1:{target.port}", "--language", "python"],
                              cwd=workdir, out=tmp_path / "out")
    ran = check(outcome, {"plaintext"}, {
        "answer-nan@plaintext": "needs the reference server: server controls (x-conformance-* metadata)",
        "auth-every-call": "needs the reference server: the server's conformance log (the case's point is what "
                           "the server received)",
        "model-metadata@plaintext": "needs the reference server: the reference model's metadata",
        "backpressure-retried": "needs the reference server: a reference-server configuration other than plain/tls",
        "image-jpeg@tls": "needs a TLS target (--target-tls); a target that demands a key, and the key "
                          "(--target-key-env)",
    })
    assert {"image-jpeg@plaintext", "bad-corrupt-jpeg@plaintext", "tls-to-plaintext", "model-unknown@plaintext",
            "bad-empty-batch"} <= set(ran)
    logged = target.logs()
    assert logged.count('"event": "predict"') + logged.count('"event":"predict"') >= len(ran) - 5, logged[-2000:]


def test_tls_target_with_keys(server, workdir, tmp_path):
    tls = make_tls_material(tmp_path / "tls")
    primary, secondary = "target-primary-6f1d2c", "target-secondary-93ab7e"
    target = server(ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=primary,
                                 secondary_key=secondary, conformance=False))
    outcome = run_conformance(
        ["--target", f"127.0.0.1:{target.port}", "--target-tls", "--target-ca", str(tls.ca),
         "--target-server-name", "localhost", "--target-key-env", "MY_KEY", "--target-secondary-key-env", "MY_KEY2",
         "--target-reference-model", "--language", "python"],
        cwd=workdir, out=tmp_path / "out", env={"MY_KEY": primary, "MY_KEY2": secondary})
    ran = check(outcome, {"tls", "keys", "secondary-key", "private-ca", "reference-model"}, {
        "auth-key-rotation": "needs the reference server: a reference-server configuration other than plain/tls; "
                             "keys rotated during the case",
        "image-jpeg@plaintext": "needs a plaintext target (no --target-tls)",
    })
    assert {"auth-primary", "auth-secondary", "auth-failover", "auth-wrong", "auth-none", "tls-system-roots",
            "model-metadata@tls", "tls-wrong-roots-explicit", "plaintext-to-tls"} <= set(ran)
    texts = {"stdout": outcome.stdout, "stderr": outcome.stderr}
    texts.update({str(p): p.read_text(errors="replace") for p in outcome.directory.rglob("*") if p.is_file()})
    for name, text in texts.items():
        assert primary not in text and secondary not in text, name


def test_target_down_fails(workdir, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = run_conformance(["--target", f"127.0.0.1:{port}", "--language", "python",
                               "--case", "image-*", "--case", "batch-3", "--case", "answer-nan"],
                              cwd=workdir, out=tmp_path / "out")
    assert outcome.returncode == 1
    statuses = outcome.statuses("python")
    assert statuses.pop(SCAN) == "pass"
    failed = 0
    for case, status in statuses.items():
        problems = outcome.results[("python", case)]["problems"]
        if case.startswith("answer-nan"):  # still skipped: a target down does not change what a case needs
            assert status == "skip" and problems[0].startswith("needs the reference server"), (case, problems)
        elif case.endswith("@tls"):  # a plaintext target was given
            assert status == "skip", (case, problems)
        else:
            assert status == "fail", case
            assert "UNAVAILABLE" in problems[0], problems
            failed += 1
    assert failed >= 5
