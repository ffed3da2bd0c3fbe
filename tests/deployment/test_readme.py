"""The README's lifecycle snippets (its first screen, each marked as run by this test) run as
written (but for the manager's port): the shell block, the Python block and the closing
shell block, in that order, in one shell, in a directory that looks like the checkout."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

from .managers import ROOT, ManagerProcess, port_closed, wait_until

README_PORT = "50055"


MARKER = "<!-- snippet: run-by tests/deployment/test_readme.py -->"


def lifecycle_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(re.escape(MARKER) + r"\n```(sh|python)\n(.*?)```", text, re.S)


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_the_readme_lifecycle_runs_as_written(tmp_path):
    blocks = lifecycle_blocks()
    assert [kind for kind, _ in blocks] == ["sh", "python", "sh"]
    port = free_port()
    script = "set -e\n"
    for kind, body in blocks:
        script += body if kind == "sh" else f"python3 - <<'PYTHON'\n{body}PYTHON\n"
    assert script.count(README_PORT) >= 3
    script = script.replace(README_PORT, port)
    for name in ("scripts", "python", "conformance"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FPGASCORE_")}
    # `python3` is the Python running this test (Debian's, with the apt-installed grpcio), as on a Debian machine.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    state = ManagerProcess.__new__(ManagerProcess)  # only for server_pids() over the snippet's state dir
    state.state_dir = tmp_path / "manager-state"
    try:
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=240)
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert f"manager listening on 127.0.0.1:{port}" in out
        assert "model resnet50:1 registered" in out
        created = next(line for line in out.splitlines() if line.startswith("service demo ("))
        assert "RUNNING at 127.0.0.1:" in created and "SSL on" in created
        assert out.count("primary key:") == 1 and out.count("secondary key:") == 1
        assert "Prediction(class_id=139" in out  # the golden top class of gradient.jpg
        assert "service demo deleted" in out
        service_port = int(created.split("RUNNING at 127.0.0.1:")[1].split(",")[0])
        assert port_closed(service_port)
        wait_until(lambda: port_closed(int(port)), what="the manager to stop (kill is asynchronous)")
        assert state.server_pids() == [] and state.balancer_pids() == []
    finally:
        pid_file = tmp_path / "manager-state" / "manager.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in state.server_pids() + state.balancer_pids():
            os.kill(pid, signal.SIGKILL)
