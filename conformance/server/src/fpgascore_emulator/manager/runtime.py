"""What a runtime runs for a service, and the files the service reads.

A service's directory (``<state>/services/<id>/``, 0700) holds ``secrets/`` (0700):
``tls.crt``, ``tls.key``, ``primary.key``, ``secondary.key``, each 0600, written to a
temporary file and renamed into place (a server re-reading them never sees half a file).
The reference server reads them at start and again on SIGHUP; the manager confirms a reload
by the server's own log line (``keys.loaded``, ``tls.loaded``) before it answers.

Two runtimes share this surface (process.py, container.py):
``start(spec) -> Handle``, ``alive(handle)``, ``reload(handle, tls)``, ``stop(handle)``,
``find(service_id)``, ``orphans(known_ids)``, ``logs(handle)``, ``metrics_address(handle)``,
and for a service of several replicas ``start_balancer(spec, backends)`` /
``find_balancer(spec)`` (nginx in front of them, balancer.py); ``trim_log(handle)`` keeps a
server's log bounded.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import socket
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

SECRET_FILES = ("tls.crt", "tls.key", "primary.key", "secondary.key")
STOP_GRACE_SECONDS = 3.0
RELOAD_TIMEOUT_SECONDS = 20.0


class RuntimeFailure(Exception):
    """The runtime could not do what was asked; the message says why (the engine's words,
    the server's last log lines). Never holds a secret: the server never logs one."""


class EngineUnavailable(RuntimeFailure):
    """The container engine does not answer: whether a server runs is not known."""


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """One reference server of a service."""

    service_id: str
    name: str
    model_name: str
    model_version: int
    host: str
    port: int                 # 0: let the runtime pick one
    tls: bool
    directory: pathlib.Path   # the service's directory
    replica: int = 0          # which of the service's servers this is (0 .. replicas-1)
    replicas: int = 1         # more than one: each listens on a port of its own, behind the balancer

    @property
    def secrets_dir(self) -> pathlib.Path:
        """Every replica reads the service's one set of secrets."""
        return self.directory / "secrets"

    @property
    def server_dir(self) -> pathlib.Path:
        """Where this server's own files are (port file, log): the service's directory for a
        lone server, ``replicas/<index>/`` under it for one of several."""
        if self.replicas <= 1:
            return self.directory
        return self.directory / "replicas" / str(self.replica)

    def replica_spec(self, index: int, replicas: int) -> "ServerSpec":
        """Replica ``index`` of ``replicas``: on loopback, a port of its own (any), behind the
        balancer that listens on this spec's host and port."""
        return dataclasses.replace(self, host="127.0.0.1", port=0, replica=index, replicas=replicas)


@dataclasses.dataclass
class Handle:
    """A running (or once running) server: where it listens and how to find it again."""

    port: int
    ref: Dict[str, Any]


def service_directory(state_dir: pathlib.Path, service_id: str) -> pathlib.Path:
    return pathlib.Path(state_dir) / "services" / service_id


def _private_dir(path: pathlib.Path, owner: Optional[Tuple[int, int]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if owner:
        os.chown(path, *owner)


def write_private(path: pathlib.Path, data: bytes, owner: Optional[Tuple[int, int]] = None) -> bool:
    """Writes ``data`` to ``path`` (0600, ``owner`` if given) through a temporary file and a
    rename. Returns whether the content changed."""
    try:
        if path.read_bytes() == data:
            if owner:
                os.chown(path, *owner)
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if owner:
        os.chown(temporary, *owner)
    os.replace(temporary, path)
    return True


def write_secrets(spec: ServerSpec, certificate: str, private_key: str, primary: str, secondary: str,
                  owner: Optional[Tuple[int, int]] = None) -> bool:
    """Materializes a service's secrets (removes them all without TLS). Returns whether any
    file changed (so a running server must reload)."""
    _private_dir(spec.directory, None)
    _private_dir(spec.secrets_dir, owner)
    if not spec.tls:
        changed = False
        for name in SECRET_FILES:
            try:
                os.unlink(spec.secrets_dir / name)
                changed = True
            except FileNotFoundError:
                pass
        return changed
    contents = {"tls.crt": certificate, "tls.key": private_key, "primary.key": primary, "secondary.key": secondary}
    changed = False
    for name in SECRET_FILES:
        changed |= write_private(spec.secrets_dir / name, contents[name].encode("ascii"), owner)
    return changed


def remove_directory(directory: pathlib.Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now on ``host``, for a server's --metrics-port or a balancer's listener
    (which cannot report a port it picked; whoever takes it first makes the start fail, and
    the failure says so)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def lines_after(text: str, since: float) -> str:
    """The JSON log lines of ``text`` whose ``ts`` is at or after ``since``."""
    kept = []
    for line in text.splitlines():
        try:
            if float(json.loads(line).get("ts", 0)) >= since:
                kept.append(line)
        except (ValueError, AttributeError, TypeError):
            continue
    return "\n".join(kept)


def wait_for_event(read_new: Callable[[], str], events: Dict[str, bool], timeout: float,
                   alive: Callable[[], bool]) -> str:
    """Polls ``read_new()`` (the log written since the signal) until one of ``events``
    appears; returns it. ``events`` maps an event to whether it means success; a failure
    event, a dead server or the timeout raise RuntimeFailure."""
    deadline = time.monotonic() + timeout
    while True:
        text = read_new()
        for event, success in sorted(events.items(), key=lambda item: item[1]):  # failures first
            if f'"event":"{event}"' in text:
                if not success:
                    raise RuntimeFailure(f"the server logged {event}: " + last_lines(text, 3))
                return event
        if not alive():
            raise RuntimeFailure("the server exited while reloading: " + last_lines(text, 5))
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"the server did not confirm the reload within {timeout:.0f} s")
        time.sleep(0.05)


def last_lines(text: str, count: int = 10) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"


def reload_events(tls: bool) -> Dict[str, bool]:
    """What confirms a SIGHUP: the server reloads keys, then (with TLS) its certificate."""
    if tls:
        return {"tls.loaded": True, "tls.reload_failed": False, "keys.reload_failed": False}
    return {"keys.loaded": True, "keys.reload_failed": False}


def server_environment(spec: ServerSpec, secrets_dir_in_server: str) -> Dict[str, str]:
    """FPGASCORE_* settings of the server (keys only through files: never in the environment,
    which `docker inspect` and /proc show)."""
    env = {
        "FPGASCORE_MODEL_NAME": spec.model_name,
        "FPGASCORE_MODEL_VERSION": str(spec.model_version),
        "FPGASCORE_GRACE_SECONDS": str(STOP_GRACE_SECONDS),
    }
    if spec.tls:
        env.update({
            "FPGASCORE_TLS_CERT": f"{secrets_dir_in_server}/tls.crt",
            "FPGASCORE_TLS_KEY": f"{secrets_dir_in_server}/tls.key",
            "FPGASCORE_PRIMARY_KEY_FILE": f"{secrets_dir_in_server}/primary.key",
            "FPGASCORE_SECONDARY_KEY_FILE": f"{secrets_dir_in_server}/secondary.key",
        })
    return env


class Runtime:
    """The interface both runtimes implement."""

    name = ""
    # (uid, gid) the secrets must belong to so the server can read them; None: the manager's.
    secrets_owner: Optional[Tuple[int, int]] = None

    def start(self, spec: ServerSpec) -> Handle:
        raise NotImplementedError

    def alive(self, handle: Handle) -> bool:
        raise NotImplementedError

    def reload(self, handle: Handle, tls: bool) -> None:
        raise NotImplementedError

    def stop(self, handle: Handle) -> None:
        raise NotImplementedError

    def find(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        """The server of this service if it is still running (a restarted manager adopts it)."""
        raise NotImplementedError

    def orphans(self, known_ids: Iterable[str]) -> List[str]:
        """Removes servers labelled as this manager's whose service is not known; returns
        what it removed (for the log)."""
        raise NotImplementedError

    def logs(self, handle: Handle) -> str:
        raise NotImplementedError

    def metrics_address(self, handle: Handle) -> Optional[Tuple[str, int]]:
        """Where the server's /metrics is reached from the manager; None: it has none (a
        server started before it had one)."""
        return None

    def backend_address(self, handle: Handle) -> Tuple[str, int]:
        """Where the balancer reaches this replica."""
        return ("127.0.0.1", handle.port)

    def start_balancer(self, spec: ServerSpec, backends: List[Tuple[str, int]]) -> Handle:
        """nginx on ``spec.host:spec.port`` passing each connection to one of ``backends``."""
        raise NotImplementedError

    def find_balancer(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        """The service's balancer if it is still running."""
        raise NotImplementedError

    def trim_log(self, handle: Handle) -> None:
        """Keeps the server's log file within its bound (a runtime whose engine keeps the logs
        has nothing to do)."""
