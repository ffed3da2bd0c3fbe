"""The process runtime: each service is a reference server (``python -m fpgascore_emulator
serve``, what ``scripts/run-emulator serve`` runs) in its own session, so it outlives the
manager (a restarted manager adopts it). It logs to ``<service dir>/server.log``; its
command line names its port file, ``<state>/services/<id>/port``, which is how the manager
recognises its processes (with the pid and the kernel's start time, never a pid alone).
A replica of several has its files in ``replicas/<index>/`` instead; their balancer is an
nginx process whose command line names its ``balancer/nginx.conf``.

A server's log is kept within ``MAX_LOG_BYTES``: past it, the monitor moves it to
``server.log.1`` (the one older file kept) and empties ``server.log`` in place (the server
appends to it, so its next line starts the file again), as logrotate's ``copytruncate``.
A line written between the copy and the truncation can be lost.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..logs import log
from . import balancer
from .runtime import (RELOAD_TIMEOUT_SECONDS, STOP_GRACE_SECONDS, Handle, Runtime, RuntimeFailure, ServerSpec,
                      accepts, free_port, last_lines, reload_events, server_environment, wait_for_event)

START_TIMEOUT_SECONDS = 60.0
MAX_LOG_BYTES = 8 << 20


def _package_path() -> str:
    """PYTHONPATH for the server: where this package and the fpgascore package are."""
    import fpgascore.v1

    here = pathlib.Path(__file__).resolve().parents[2]          # .../src (fpgascore_emulator's parent)
    client = pathlib.Path(fpgascore.v1.__file__).resolve().parents[2]
    return os.pathsep.join(dict.fromkeys([str(here), str(client)]))


def _stat(pid: int) -> Optional[List[str]]:
    """Fields 3.. of /proc/<pid>/stat (state first), None when there is no such process."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0  # field 4: the parent's pid


def _start_time(pid: int) -> Optional[str]:
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22: start time in clock ticks since boot


def _flag_value(argv: List[str], flag: str) -> int:
    try:
        return int(argv[argv.index(flag) + 1])
    except (ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> List[str]:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


class ProcessRuntime(Runtime):
    name = "process"

    def __init__(self, state_dir: pathlib.Path, python: str = sys.executable,
                 start_timeout: float = START_TIMEOUT_SECONDS) -> None:
        self._services_dir = pathlib.Path(state_dir).resolve() / "services"
        self._python = python
        self._start_timeout = start_timeout
        self._children: Dict[int, subprocess.Popen[Any]] = {}

    # -- start ----------------------------------------------------------------------------
    def start(self, spec: ServerSpec) -> Handle:
        directory = spec.server_dir.resolve()
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        port_file = directory / "port"
        log_path = directory / "server.log"
        try:
            port_file.unlink()
        except FileNotFoundError:
            pass
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("FPGASCORE_")}  # the manager's settings (its token!) stay here
        env["PYTHONPATH"] = _package_path()
        env.update(server_environment(spec, str(spec.secrets_dir.resolve())))
        metrics_port = free_port()
        command = [self._python, "-m", "fpgascore_emulator", "serve", "--host", spec.host,
                   "--port", str(spec.port), "--port-file", str(port_file),
                   "--metrics-host", "127.0.0.1", "--metrics-port", str(metrics_port)]
        process = self._spawn(command, env, directory, log_path, "the reference server", port_file.exists,
                              f"cannot run {self._python}")
        port = int(port_file.read_text())
        ref = {"pid": process.pid, "start_time": _start_time(process.pid), "port_file": str(port_file),
               "log": str(log_path), "port": port, "metrics_port": metrics_port}
        return Handle(port, ref)

    def _spawn(self, command: List[str], env: Optional[Dict[str, str]], directory: pathlib.Path,
               log_path: pathlib.Path, what: str, ready: Callable[[], bool], cannot_run: str,
               advice: str = "") -> "subprocess.Popen[Any]":
        """Starts ``command`` in its own session, its output appended to ``log_path``, and waits
        until ``ready()``; a process that exits or is not ready in time is stopped and its last
        log lines are the RuntimeFailure's message."""
        descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        offset = os.lseek(descriptor, 0, os.SEEK_END)
        try:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=descriptor,
                                       stderr=subprocess.STDOUT, cwd=str(directory), start_new_session=True,
                                       close_fds=True)
        except OSError as error:
            raise RuntimeFailure(f"{cannot_run}: {error.strerror}{advice}") from None
        finally:
            os.close(descriptor)
        self._children[process.pid] = process
        deadline = time.monotonic() + self._start_timeout
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                why = (f"exited with status {process.returncode}" if process.poll() is not None
                       else f"did not listen within {self._start_timeout:.0f} s")
                self._terminate(process.pid)
                raise RuntimeFailure(f"{what} {why}: {last_lines(self._read(log_path, offset), 5)}")
            time.sleep(0.05)
        return process

    @staticmethod
    def _read(path: pathlib.Path, offset: int = 0) -> str:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    # -- state ----------------------------------------------------------------------------
    def _is_ours(self, ref: Dict[str, Any]) -> bool:
        pid = ref.get("pid")
        if not pid:
            return False
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            self._children.pop(pid, None)
            return False
        fields = _stat(pid)
        if not fields or fields[0] in ("Z", "X") or fields[19] != ref.get("start_time"):
            return False
        if "marker" in ref:  # nginx rewrites its command line into one string
            return str(ref["marker"]) in " ".join(_cmdline(pid))
        return ref.get("port_file", "\0") in _cmdline(pid)

    def alive(self, handle: Handle) -> bool:
        return self._is_ours(handle.ref)

    def find(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        if ref and self._is_ours(ref):
            return Handle(int(ref.get("port", 0)), ref)
        # A manager that stopped between starting a server and saving its pid: look it up.
        port_file = str(spec.server_dir.resolve() / "port")
        for pid in self._server_pids():
            if port_file in _cmdline(pid):
                try:
                    port = int(pathlib.Path(port_file).read_text())
                except (OSError, ValueError):
                    continue
                found = {"pid": pid, "start_time": _start_time(pid), "port_file": port_file,
                         "log": str(spec.server_dir.resolve() / "server.log"), "port": port,
                         "metrics_port": _flag_value(_cmdline(pid), "--metrics-port")}
                return Handle(port, found)
        return None

    def _server_pids(self) -> List[int]:
        """Every process whose command line is a reference server with a port file under this
        manager's services directory."""
        prefix = str(self._services_dir) + os.sep
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            argv = _cmdline(int(entry))
            if "fpgascore_emulator" in argv and "--port-file" in argv:
                index = argv.index("--port-file")
                if index + 1 < len(argv) and argv[index + 1].startswith(prefix):
                    pids.append(int(entry))
        return pids

    def orphans(self, known_ids: Iterable[str]) -> List[str]:
        known = set(known_ids)
        removed = []
        for pid in self._server_pids():
            argv = _cmdline(pid)
            service_id = self._service_of(argv[argv.index("--port-file") + 1])
            if service_id not in known:
                self._terminate(pid)
                removed.append(f"process {pid} of {service_id}")
        for pid, config_path in self._balancer_pids():
            service_id = self._service_of(config_path)
            if service_id not in known:
                self._terminate(pid)
                removed.append(f"balancer {pid} of {service_id}")
        return removed

    def _service_of(self, path: str) -> str:
        """The service id of a file under the services directory (its first component)."""
        return pathlib.Path(path).relative_to(self._services_dir).parts[0]

    def _balancer_pids(self) -> List[Tuple[int, str]]:
        """nginx masters running a configuration under this manager's services directory. A
        worker its master has just forked still shows the master's title for a moment: a
        match whose parent matches too is that worker, not a master."""
        prefix = str(self._services_dir) + os.sep
        found: Dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            line = " ".join(_cmdline(int(entry)))
            if not line.startswith("nginx: master process") or " -c " + prefix not in line:
                continue
            found[int(entry)] = line.split(" -c ", 1)[1].split(" ", 1)[0]
        return [(pid, config_path) for pid, config_path in found.items() if _parent(pid) not in found]

    # -- the balancer ---------------------------------------------------------------------
    def start_balancer(self, spec: ServerSpec, backends: List[Tuple[str, int]]) -> Handle:
        directory = spec.directory.resolve() / "balancer"
        config_path = balancer.write_config(directory, spec.host, spec.port, backends, str(directory / "nginx.pid"))
        log_path = directory / "balancer.log"
        for pid, running in self._balancer_pids():  # one left by a manager that stopped mid-way
            if running == str(config_path):
                self._terminate(pid)
        process = self._spawn(balancer.command(str(config_path), str(directory)), None, directory, log_path,
                              "the load balancer (nginx)", lambda: accepts(spec.host, spec.port),
                              f"cannot run the load balancer {balancer.NGINX}",
                              " (install Debian's nginx and libnginx-mod-stream)")
        ref = {"pid": process.pid, "start_time": _start_time(process.pid), "marker": f"-c {config_path}",
               "log": str(log_path), "port": spec.port}
        return Handle(spec.port, ref)

    def find_balancer(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        if ref and self._is_ours(ref):
            return Handle(int(ref.get("port", 0)), ref)
        config_path = str(spec.directory.resolve() / "balancer" / balancer.CONFIG_NAME)
        for pid, running in self._balancer_pids():
            if running == config_path:
                return Handle(spec.port, {"pid": pid, "start_time": _start_time(pid), "marker": f"-c {config_path}",
                                          "log": str(pathlib.Path(config_path).with_name("balancer.log")),
                                          "port": spec.port})
        return None

    def trim_log(self, handle: Handle) -> None:
        path = pathlib.Path(handle.ref.get("log", ""))
        try:
            if not path.name or path.stat().st_size <= MAX_LOG_BYTES:
                return
            older = path.with_name(path.name + ".1")
            with open(path, "rb") as source, open(older, "wb") as target:
                shutil.copyfileobj(source, target)
            os.chmod(older, 0o600)
            os.truncate(path, 0)
        except OSError as error:
            log("manager.log_trim_failed", file=path.name, error=error.strerror or str(error))

    def metrics_address(self, handle: Handle) -> Optional[Tuple[str, int]]:
        port = int(handle.ref.get("metrics_port") or 0)
        return ("127.0.0.1", port) if port else None

    def logs(self, handle: Handle) -> str:
        return self._read(pathlib.Path(handle.ref.get("log", "")))

    # -- signals --------------------------------------------------------------------------
    def reload(self, handle: Handle, tls: bool) -> None:
        if not self.alive(handle):
            raise RuntimeFailure("the reference server is not running")
        log_path = pathlib.Path(handle.ref["log"])
        offset = log_path.stat().st_size
        os.kill(handle.ref["pid"], signal.SIGHUP)
        wait_for_event(lambda: self._read(log_path, offset), reload_events(tls), RELOAD_TIMEOUT_SECONDS,
                       lambda: self.alive(handle))

    def stop(self, handle: Handle) -> None:
        if self.alive(handle):
            self._terminate(handle.ref["pid"])

    def _terminate(self, pid: int) -> None:
        """SIGTERM (the server drains for its grace period), then SIGKILL; reaps a child."""
        start = _start_time(pid)

        def gone() -> bool:
            child = self._children.get(pid)
            if child is not None:
                return child.poll() is not None
            fields = _stat(pid)
            return not fields or fields[0] in ("Z", "X") or fields[19] != start

        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS + 5.0), (signal.SIGKILL, 10.0)):
            if gone():
                break
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while not gone() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            if not gone():
                log("manager.stop_failed", pid=pid)
        self._children.pop(pid, None)
