"""The manager (``scripts/run-emulator manage``) as a child process of a test, and what a
test needs to check what it left behind: the service processes under its state directory,
its containers, whether a port is closed."""
from __future__ import annotations

import os
import pathlib
import signal
import socket
import sqlite3
import subprocess
import time
from typing import Iterator, List, Optional, Tuple

import fpgascore

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUN_EMULATOR = ROOT / "scripts" / "run-emulator"
IMAGES = ROOT / "conformance" / "testdata" / "images"
TEST_IMAGE = "localhost/fpgascore-emulator:deployment-test"
TEST_BALANCER_IMAGE = "localhost/fpgascore-balancer:deployment-test"
TEST_MANAGER_IMAGE = "localhost/fpgascore-manager:deployment-test"


class ManagerProcess:
    """One manager on a state directory; ``start()`` again after ``stop()``/``kill()`` reuses
    the directory and the port (what a restarted manager does)."""

    def __init__(self, state_dir: pathlib.Path, token: str, runtime: str = "process",
                 image: Optional[str] = None, balancer_image: Optional[str] = None, monitor_interval: float = 0.5,
                 extra_args: Optional[List[str]] = None) -> None:
        self.state_dir = pathlib.Path(state_dir)
        self.work = self.state_dir.parent
        self.token = token
        self.token_file = self.work / f"{self.state_dir.name}.token"
        self.token_file.write_text(token + "\n")
        self.token_file.chmod(0o600)
        self.runtime = runtime
        self.image = image
        self.balancer_image = balancer_image
        self.monitor_interval = monitor_interval
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.log_path = self.work / f"{self.state_dir.name}.manager.log"
        self._process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 60.0) -> "ManagerProcess":
        port_file = self.work / f"{self.state_dir.name}.port"
        if port_file.exists():
            port_file.unlink()
        command = [str(RUN_EMULATOR), "manage", "--port", str(self.port), "--port-file", str(port_file),
                   "--state-dir", str(self.state_dir), "--runtime", self.runtime,
                   "--admin-token-file", str(self.token_file), "--monitor-interval", str(self.monitor_interval)]
        if self.image:
            command += ["--image", self.image]
        if self.balancer_image:
            command += ["--balancer-image", self.balancer_image]
        command += self.extra_args
        env = {k: v for k, v in os.environ.items() if k != "FPGASCORE_ADMIN_TOKEN"}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=env)
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the manager did not start:\n{self.logs()}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, **options) -> fpgascore.DeploymentClient:
        return fpgascore.DeploymentClient(self.address, admin_token=self.token, **options)

    def stop(self) -> Optional[int]:
        """SIGTERM: the manager stops; its services keep running."""
        if not self.running:
            return None
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(30)

    def kill(self) -> None:
        """SIGKILL: the manager crashes; its services keep running."""
        if self.running:
            self._process.kill()
        if self._process is not None:
            self._process.wait(30)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def manager_id(self) -> str:
        with sqlite3.connect(str(self.state_dir / "manager.db")) as db:
            return db.execute("SELECT value FROM meta WHERE key = 'manager_id'").fetchone()[0]

    def service_dirs(self) -> List[str]:
        services = self.state_dir / "services"
        return sorted(path.name for path in services.iterdir()) if services.exists() else []

    def server_pids(self) -> List[int]:
        """The reference servers whose port file is under this manager's state directory."""
        prefix = str(self.state_dir.resolve() / "services") + os.sep
        return [pid for pid, argv, stat in processes()
                if stat[0] != "Z" and "serve" in argv and any(arg.startswith(prefix) for arg in argv)]

    def balancer_pids(self) -> List[int]:
        """The nginx masters whose configuration is under this manager's state directory (not a
        worker just forked, which shows its master's title for a moment)."""
        marker = " -c " + str(self.state_dir.resolve() / "services") + os.sep
        parents = {}
        for pid, argv, stat in processes():
            line = " ".join(argv)
            if line.startswith("nginx: master process") and marker in line:
                parents[pid] = int(stat[1])
        return sorted(pid for pid, parent in parents.items() if parent not in parents)

    def containers(self, engine) -> list:
        """The manager's containers. The engine lists ids, then the docker package inspects each: a
        container the manager removes in between (it replaces a dead one) fails the inspection, so
        the listing is taken again."""
        import docker

        for _ in range(5):
            try:
                return engine.containers.list(all=True, filters={"label": f"fpgascore.manager={self.manager_id}"})
            except (docker.errors.NotFound, docker.errors.APIError) as error:
                if "no such container" not in str(error).lower():
                    raise
                time.sleep(0.2)
        return engine.containers.list(all=True, filters={"label": f"fpgascore.manager={self.manager_id}"})

    def cleanup(self, engine=None) -> None:
        """Deletes every service through the API, stops the manager, then removes by id
        whatever is still there (a failed test must not leave servers running)."""
        try:
            if not self.running:
                self.start()
            with self.client(timeout=60) as client:
                for service in client.list_services():
                    try:
                        client.delete_service(service.id)
                    except fpgascore.ScoringError:
                        pass
        except Exception:
            pass
        self.stop()
        self.kill()
        for pid in self.server_pids() + self.balancer_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if engine is not None and (self.state_dir / "manager.db").exists():
            for container in self.containers(engine):
                container.remove(force=True)


def port_closed(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) != 0


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def kill_and_wait(pid: int) -> None:
    """SIGKILL, then wait until the process has exited (a zombie or gone): the signal is
    delivered asynchronously, and on a busy machine the process lives on for a while."""
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _exited(pid), 30, 0.01, f"process {pid} to exit")


def _exited(pid: int) -> bool:
    stat = _stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def _stat(pid: int) -> Optional[List[str]]:
    """The fields of /proc/PID/stat after the command name (state, parent, ...); None when the
    process is gone."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def processes() -> Iterator[Tuple[int, List[str], List[str]]]:
    """Every process as (pid, argv, stat fields after the command name). A process that exits
    while /proc is read (other tests' processes come and go) is skipped, not an error."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = pathlib.Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        stat = _stat(int(entry))
        if stat is not None:
            yield int(entry), argv, stat


def pids_with_command_line_holding(text: str) -> List[int]:
    """The processes one of whose arguments holds ``text``."""
    return [pid for pid, argv, _ in processes() if any(text in arg for arg in argv)]
