"""The harness scripts start only the container engine a run needs and stop only what they
started (scripts/containers-setup.sh, scripts/conformance.sh, scripts/setup.sh).

Each test serves podman's API on a socket of its own (FPGASCORE_PODMAN_SOCKET in a fresh
directory), so it neither sees nor touches the machine's service at /run/podman/podman.sock
that other runs may be using. Whatever still serves the test's socket at the end was
started by the test (the socket's path is unique to it) and is killed then.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "containers-setup.sh"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None,
                                reason="podman is not installed (scripts/setup.sh installs it)")


def services(socket: pathlib.Path) -> list[int]:
    """PIDs of the podman API services serving this socket (zombies excluded)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"podman" in argv[0] and b"service" in argv and f"unix://{socket}".encode() in argv and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


class Engine:
    """One test's socket and the environment its script runs get."""

    def __init__(self) -> None:
        # A short path: a unix socket's path must fit in 108 bytes.
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="fpgascore-harness-", dir="/tmp"))
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.env = {key: value for key, value in os.environ.items() if key != "DOCKER_HOST"}
        self.env["FPGASCORE_PODMAN_SOCKET"] = str(self.socket)
        self._holders: list[subprocess.Popen] = []

    def holder(self) -> subprocess.Popen:
        """A process standing for a run that holds the engine while it lives."""
        process = subprocess.Popen(["sleep", "300"])
        self._holders.append(process)
        return process

    def setup(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(SETUP), *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def hold(self, holder: subprocess.Popen) -> str:
        return self.setup("--holder", str(holder.pid)).stdout.strip().splitlines()[-1]

    def release(self, holder: subprocess.Popen) -> str:
        return self.setup("--release", "--holder", str(holder.pid)).stderr

    def answers(self) -> bool:
        import docker
        try:
            return docker.DockerClient(base_url=self.url, timeout=5).ping()
        except Exception:
            return False

    def close(self) -> None:
        for holder in self._holders:
            holder.kill()
            holder.wait()
        for pid in services(self.socket):  # started for this test's own socket: ours to end
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def engine():
    engine = Engine()
    try:
        yield engine
    finally:
        engine.close()


def wait_gone(engine: Engine, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while services(engine.socket) and time.monotonic() < deadline:
        time.sleep(0.05)
    return services(engine.socket)


def slow_podman(engine: Engine, delay: float) -> None:
    """Puts a podman first on the scripts' PATH whose API service takes `delay` seconds more to
    come up, so that runs overlap while it starts."""
    bin_dir = engine.dir / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "podman"
    wrapper.write_text(f'#!/bin/sh\n[ "$1 $2" = "system service" ] && sleep {delay}\n'
                       f'exec {shutil.which("podman")} "$@"\n')
    wrapper.chmod(0o755)
    engine.env["PATH"] = f"{bin_dir}:{engine.env['PATH']}"


def test_concurrent_holds_start_one_service_and_the_last_release_stops_it(engine):
    slow_podman(engine, 1.0)
    holders = [engine.holder() for _ in range(3)]
    runs = [subprocess.Popen([str(SETUP), "--holder", str(h.pid)], env=engine.env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for h in holders]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    assert [out.strip().splitlines()[-1] for out, _ in outputs] == [engine.url] * 3
    started = [err for _, err in outputs if "starting podman's Docker API service" in err]
    assert len(started) == 1, [err for _, err in outputs]
    assert len(services(engine.socket)) == 1, services(engine.socket)
    assert engine.answers()
    for holder in holders:
        engine.release(holder)
    assert wait_gone(engine) == []
    assert not engine.socket.exists()


def test_a_release_leaves_the_service_to_the_runs_still_holding_it(engine):
    first, second = engine.holder(), engine.holder()
    assert engine.hold(first) == engine.url      # starts it
    (service,) = services(engine.socket)
    assert engine.hold(second) == engine.url     # reuses it
    assert "left running for 1 other run" in engine.release(first)  # the starter is done first
    assert services(engine.socket) == [service] and engine.answers()
    assert "stopped podman's Docker API service" in engine.release(second)
    assert wait_gone(engine) == []


def test_a_service_this_script_did_not_start_is_never_stopped(engine):
    foreign = subprocess.Popen(["podman", "system", "service", "--time=0", engine.url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not engine.answers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.answers()
        run = engine.holder()
        assert engine.hold(run) == engine.url
        assert services(engine.socket) == [foreign.pid]  # reused, no second service
        engine.release(run)
        time.sleep(0.3)
        assert foreign.poll() is None and engine.answers()
        # A run through --run holds it too, and leaves it alone when it ends.
        result = engine.setup("--run", "sh", "-c", 'echo "$DOCKER_HOST"')
        assert result.stdout.strip() == engine.url
        assert foreign.poll() is None and services(engine.socket) == [foreign.pid]
    finally:
        foreign.terminate()
        foreign.wait(timeout=20)


def test_a_run_that_died_without_releasing_does_not_keep_the_service(engine):
    crashed, later = engine.holder(), engine.holder()
    engine.hold(crashed)
    crashed.kill()  # kill -9: its trap never runs, its hold stays behind
    crashed.wait()
    engine.hold(later)
    assert len(services(engine.socket)) == 1
    assert "stopped podman's Docker API service" in engine.release(later)
    assert wait_gone(engine) == []


def test_run_holds_the_engine_for_the_command_only(engine):
    result = engine.setup("--run", "sh", "-c", 'echo "$DOCKER_HOST"; exit 3', check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == engine.url
    assert "starting podman's Docker API service" in result.stderr
    assert wait_gone(engine) == []


def test_conformance_with_processes_starts_no_engine(engine, tmp_path):
    # The whole path, setup included (scripts/setup.sh used to start the API service).
    result = subprocess.run(
        [str(ROOT / "scripts" / "conformance.sh"), "--server=process", "--language", "python",
         "--case", "auth-plaintext-no-key", "--out", str(tmp_path)],
        env={key: value for key, value in engine.env.items() if key != "FPGASCORE_SKIP_SETUP"},
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "conformance: 2 passed, 0 failed" in result.stdout  # the case and the key scan
    assert services(engine.socket) == [] and not engine.socket.exists(), result.stderr
    assert "starting podman's Docker API service" not in result.stderr


def test_a_container_conformance_run_leaves_the_engine_to_another_holder(engine, tmp_path):
    other = engine.holder()
    engine.hold(other)
    (service,) = services(engine.socket)
    # No case matches, so the run ends right after holding the engine; it must not stop the
    # service the other run still holds.
    result = subprocess.run(
        [str(ROOT / "scripts" / "conformance.sh"), "--server=container", "--case", "no-such-case",
         "--out", str(tmp_path)],
        env={**engine.env, "FPGASCORE_SKIP_SETUP": "1"}, capture_output=True, text=True, timeout=120)
    assert "no case matches" in result.stdout + result.stderr, result.stderr
    assert "left running for 1 other run" in result.stderr
    assert services(engine.socket) == [service] and engine.answers()
    engine.release(other)
    assert wait_gone(engine) == []


def test_a_container_conformance_run_stops_the_engine_it_started(engine, tmp_path):
    result = subprocess.run(
        [str(ROOT / "scripts" / "conformance.sh"), "--server=container", "--case", "no-such-case",
         "--out", str(tmp_path)],
        env={**engine.env, "FPGASCORE_SKIP_SETUP": "1"}, capture_output=True, text=True, timeout=120)
    assert "starting podman's Docker API service" in result.stderr, result.stderr
    assert "stopped podman's Docker API service" in result.stderr
    assert wait_gone(engine) == []


def test_suites_without_containers_start_no_engine(engine, tmp_path):
    result = subprocess.run([str(ROOT / "scripts" / "test-all.sh"), "generated"],
                            env={**engine.env, "FPGASCORE_SKIP_SETUP": "1",
                                 "FPGASCORE_TEST_ALL_SUMMARY": str(tmp_path / "summary.json")},  # not over a real run's
                            capture_output=True, text=True, timeout=120)
    # Whether the suite passes is not the point here (it needs the Go stack): only that it ran.
    assert "=== suite generated ===" in result.stderr, result.stdout[-2000:] + result.stderr[-2000:]
    assert "API service" not in result.stderr  # neither started nor looked for
    assert services(engine.socket) == [] and not engine.socket.exists()
