"""The runtime's reload waits for the server's own confirmation: a stand-in server that
confirms a SIGHUP only after a second (the real one is too quick for a race to show)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from fpgascore_emulator.manager import process
from fpgascore_emulator.manager.runtime import Handle, RuntimeFailure, lines_after, write_private

# Logs `event` (argv[1]) one second after each SIGHUP; exits on SIGTERM. Logs "ready" once its
# handler is in place (before it, a SIGHUP would kill it).
STAND_IN = """
import json, signal, sys, time
event = sys.argv[1]
hups = []
signal.signal(signal.SIGHUP, lambda *_: hups.append(1))
print(json.dumps({"ts": time.time(), "event": "ready"}, separators=(",", ":")), flush=True)
while True:
    time.sleep(0.05)
    if hups:
        hups.clear()
        time.sleep(1.0)
        print(json.dumps({"ts": time.time(), "event": event}, separators=(",", ":")), flush=True)
"""


@pytest.fixture
def stand_in(tmp_path):
    started = []

    def start(event: str):
        log = tmp_path / "server.log"
        port_file = str(tmp_path / "port")
        with open(log, "ab") as out:
            child = subprocess.Popen([sys.executable, "-c", STAND_IN, event, "--port-file", port_file], stdout=out)
        started.append(child)
        deadline = time.monotonic() + 60  # a busy host can take seconds to start Python
        while '"event":"ready"' not in log.read_text():
            assert child.poll() is None and time.monotonic() < deadline, f"the stand-in did not start: {log.read_text()}"
            time.sleep(0.05)
        ref = {"pid": child.pid, "start_time": process._start_time(child.pid), "port_file": port_file,
               "log": str(log)}
        return Handle(1, ref)

    yield start
    for child in started:
        child.kill()
        child.wait()


def test_a_key_reload_returns_only_once_the_server_confirmed(stand_in, tmp_path):
    runtime = process.ProcessRuntime(tmp_path)
    handle = stand_in("keys.loaded")
    started = time.monotonic()
    runtime.reload(handle, tls=False)
    assert time.monotonic() - started >= 1.0
    assert '"event":"keys.loaded"' in runtime.logs(handle)


def test_a_tls_reload_waits_for_the_certificate(stand_in, tmp_path):
    runtime = process.ProcessRuntime(tmp_path)
    handle = stand_in("tls.loaded")
    started = time.monotonic()
    runtime.reload(handle, tls=True)
    assert time.monotonic() - started >= 1.0


def test_a_failed_reload_raises(stand_in, tmp_path):
    runtime = process.ProcessRuntime(tmp_path)
    with pytest.raises(RuntimeFailure, match="tls.reload_failed"):
        runtime.reload(stand_in("tls.reload_failed"), tls=True)


def test_a_dead_server_cannot_reload(stand_in, tmp_path):
    runtime = process.ProcessRuntime(tmp_path)
    handle = stand_in("keys.loaded")
    subprocess.run(["kill", "-9", str(handle.ref["pid"])], check=True)
    time.sleep(0.2)
    assert not runtime.alive(handle)
    with pytest.raises(RuntimeFailure, match="not running"):
        runtime.reload(handle, tls=False)


def test_a_reused_pid_is_not_the_server(stand_in, tmp_path):
    runtime = process.ProcessRuntime(tmp_path)
    handle = stand_in("keys.loaded")
    assert runtime.alive(handle)
    assert not runtime.alive(Handle(1, {**handle.ref, "start_time": "1"}))
    assert not runtime.alive(Handle(1, {**handle.ref, "port_file": str(tmp_path / "another")}))


def test_lines_after_keeps_the_lines_logged_since():
    text = "\n".join(json.dumps({"ts": ts, "event": name}) for ts, name in ((1.0, "a"), (2.0, "b"), (3.0, "c")))
    assert [json.loads(line)["event"] for line in lines_after(text + "\nnot json", 2.0).splitlines()] == ["b", "c"]


def test_secrets_are_written_whole_and_private(tmp_path):
    path = tmp_path / "primary.key"
    assert write_private(path, b"first")
    assert not write_private(path, b"first")  # unchanged: no rewrite, no reload needed
    assert write_private(path, b"second") and path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["primary.key"]  # no temporary left


# Appends a numbered line to its stdout every 5 ms, as a server logging through an O_APPEND file.
CHATTY = """
import sys, time
for number in range(100000):
    sys.stdout.write(f"line {number:06d} " + "x" * 90 + "\\n")
    sys.stdout.flush()
    time.sleep(0.005)
"""


def test_a_servers_log_is_kept_within_its_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "MAX_LOG_BYTES", 20_000)
    log_path = tmp_path / "server.log"
    runtime = process.ProcessRuntime(tmp_path)
    with open(log_path, "ab") as log:
        writer = subprocess.Popen([sys.executable, "-c", CHATTY], stdout=log)
    try:
        handle = Handle(0, {"log": str(log_path)})
        older_path = log_path.with_name("server.log.1")
        passes, deadline = 0, time.monotonic() + 120
        # The monitor's passes, the writer paused for each check: 20 at least, and until one trimmed
        # (a busy host can take seconds to start the writer).
        while passes < 20 or not older_path.exists():
            assert time.monotonic() < deadline, f"nothing to trim after {passes} passes"
            passes += 1
            time.sleep(0.1)
            writer.send_signal(signal.SIGSTOP)
            runtime.trim_log(handle)
            assert log_path.stat().st_size <= 20_000
            writer.send_signal(signal.SIGCONT)
        older = log_path.with_name("server.log.1").read_text()
        # The last pass may have just trimmed: the resumed writer's next line, within seconds.
        current, wait_until = log_path.read_text(), time.monotonic() + 30
        while "\n" not in current and time.monotonic() < wait_until:
            time.sleep(0.05)
            current = log_path.read_text()
    finally:
        writer.kill()
        writer.wait()
    assert older.startswith("line ") and "\0" not in current  # appends start at 0 again: no hole
    assert int(current.split()[1]) > int(older.splitlines()[-1].split()[1])  # the newest lines are kept
    assert oct(log_path.with_name("server.log.1").stat().st_mode & 0o777) == "0o600"
