"""Running the reference server for tests and conformance runs: as a local process
(``EmulatorProcess``) or as a container (``EmulatorContainer``, via the ``docker`` package,
which talks to Docker or to podman's Docker-compatible API). Both have the same surface:
``start()``, ``host``/``port``, ``reload()`` (SIGHUP: re-read keys and certificate),
``logs()``, ``stop()``, and work as context managers.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, TypeVar, cast

from . import owners

REPO_ROOT = pathlib.Path(__file__).resolve().parents[4]
RUN_EMULATOR = REPO_ROOT / "scripts" / "run-emulator"
CONTAINERFILE = "conformance/server/Containerfile"
BALANCER_CONTAINERFILE = "conformance/server/Balancer.Containerfile"
MANAGER_CONTAINERFILE = "conformance/server/Manager.Containerfile"
IMAGE = "localhost/fpgascore-emulator:dev"
CONTAINER_PORT = 50051


@dataclasses.dataclass
class ServerConfig:
    """What a server should run with. Paths are host paths; keys are values."""
    tls_cert: Optional[pathlib.Path] = None
    tls_key: Optional[pathlib.Path] = None
    primary_key: Optional[str] = None
    secondary_key: Optional[str] = None
    require_auth: bool = False
    conformance: bool = True
    service_time_ms: float = 0.0
    fpgas: int = 1
    queue_depth: int = 32
    max_message_bytes: Optional[int] = None
    extra_env: Dict[str, str] = dataclasses.field(default_factory=dict)

    def environment(self, key_dir: pathlib.Path, cert_dir: str, key_dir_in_server: str) -> Dict[str, str]:
        """FPGASCORE_* variables for the server; keys go through files in key_dir."""
        env = {
            "FPGASCORE_CONFORMANCE": "1" if self.conformance else "0",
            "FPGASCORE_REQUIRE_AUTH": "1" if self.require_auth else "0",
            "FPGASCORE_SERVICE_TIME_MS": str(self.service_time_ms),
            "FPGASCORE_FPGAS": str(self.fpgas),
            "FPGASCORE_QUEUE_DEPTH": str(self.queue_depth),
        }
        if self.max_message_bytes:
            env["FPGASCORE_MAX_MESSAGE_BYTES"] = str(self.max_message_bytes)
        if self.tls_cert:
            env["FPGASCORE_TLS_CERT"] = f"{cert_dir}/{self.tls_cert.name}"
            env["FPGASCORE_TLS_KEY"] = f"{cert_dir}/{cast(pathlib.Path, self.tls_key).name}"
        for slot, value in (("primary", self.primary_key), ("secondary", self.secondary_key)):
            path = key_dir / f"{slot}.key"
            path.write_text(value or "")
            path.chmod(0o644)  # the container's non-root user reads it through a bind mount
            env[f"FPGASCORE_{slot.upper()}_KEY_FILE"] = f"{key_dir_in_server}/{slot}.key"
        env.update(self.extra_env)
        return env


_E = TypeVar("_E", bound="_Emulator")


class _Emulator:
    host = "127.0.0.1"
    port: int = 0

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._workdir = pathlib.Path(tempfile.mkdtemp(prefix="fpgascore-emulator-"))
        self.key_dir = self._workdir / "keys"
        self.key_dir.mkdir()
        self.key_dir.chmod(0o755)
        self._final_logs: Optional[str] = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def rotate_keys(self, primary: Optional[str], secondary: Optional[str]) -> None:
        """Writes new key files and makes the server re-read them."""
        for slot, value in (("primary", primary), ("secondary", secondary)):
            (self.key_dir / f"{slot}.key").write_text(value or "")
        self.reload()

    def reload(self, timeout: float = 10.0) -> None:
        """Makes the server re-read its keys and certificate (SIGHUP); returns once its log
        says it did (a reload that failed logs too, and the server keeps what it had)."""
        wanted = ("keys.", "tls.") if self.config.tls_cert else ("keys.",)
        before = [self._reloads(kind) for kind in wanted]
        self._signal_reload()
        deadline = time.monotonic() + timeout
        while any(self._reloads(kind) <= count for kind, count in zip(wanted, before)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not reload within {timeout} s:\n{self.logs()[-2000:]}")
            time.sleep(0.02)

    def _reloads(self, kind: str) -> int:
        """How many reloads of ``kind`` ("keys." or "tls.") the log shows, done or failed."""
        logs = self._read_logs()
        return sum(logs.count(f'"event":"{kind}{outcome}"') for outcome in ("loaded", "reload_failed"))

    def _signal_reload(self) -> None:
        raise NotImplementedError

    def __enter__(self: _E) -> _E:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def _halt(self, timeout: float) -> Optional[int]:
        raise NotImplementedError

    def _read_logs(self) -> str:
        raise NotImplementedError

    def logs(self) -> str:
        """The server's log lines so far (JSON, one per line); kept after stop()."""
        return self._final_logs if self._final_logs is not None else self._read_logs()

    def records(self) -> List[Dict[str, Any]]:
        """The server's JSON log lines so far, parsed (other output is passed over)."""
        found = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def attempts(self, case: str) -> List[Dict[str, Any]]:
        """The log lines of the attempts of one conformance case id (x-conformance-case)."""
        return [record for record in self.records() if record.get("case") == case]

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        """Stops the server gracefully (SIGTERM); returns its exit code."""
        code = self._halt(timeout)
        self._final_logs = self._read_logs()
        shutil.rmtree(self._workdir, ignore_errors=True)
        return code


class EmulatorProcess(_Emulator):
    """The server as a child process of this one (quick, no container engine needed), started
    by the one documented command, ``scripts/run-emulator serve --port 0 --port-file FILE``, as
    the Go and C# tests start it too."""

    def __init__(self, config: ServerConfig, startup_timeout: float = 30.0) -> None:
        super().__init__(config)
        self._timeout = startup_timeout
        self._process: Optional[subprocess.Popen[Any]] = None
        self._log_path = self._workdir / "server.log"
        self.port_file = self._workdir / "port"  # the server writes its bound port there once listening

    def start(self) -> None:
        cert_dir = str(self.config.tls_cert.parent) if self.config.tls_cert else ""
        env = {**os.environ, **self.config.environment(self.key_dir, cert_dir, str(self.key_dir))}
        env.pop("FPGASCORE_PRIMARY_KEY", None)
        env.pop("FPGASCORE_SECONDARY_KEY", None)
        port_file = self.port_file
        port_file.unlink(missing_ok=True)
        self._log = open(self._log_path, "ab")  # a bounced server's lines follow its earlier ones
        self._process = subprocess.Popen(
            [str(RUN_EMULATOR), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--port-file", str(port_file)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self._timeout
        while not port_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                why = (f"exited with {self._process.returncode}" if self._process.poll() is not None
                       else f"did not start within {self._timeout} s")
                self.stop()  # closes the log and removes the key files
                raise RuntimeError(f"emulator {why}:\n{self.logs()}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def bounce(self, timeout: float = 15.0) -> None:
        """Stops the server gracefully and starts it again on the same port (logs kept)."""
        self._halt(timeout)
        self.start()

    def _signal_reload(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def _read_logs(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def _halt(self, timeout: float) -> Optional[int]:
        code = None
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                code = self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()
        elif self._process:
            code = self._process.returncode
        if hasattr(self, "_log"):
            self._log.close()
        return code


def docker_client() -> Any:
    """A docker.DockerClient for Docker or podman (DOCKER_HOST, else the usual sockets)."""
    import docker  # imported here: the process mode works without it

    candidates = [os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else []
    candidates += ["unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"]
    errors = []
    for url in candidates:
        try:
            client = docker.DockerClient(base_url=url, timeout=120)
            client.ping()
            return client
        except Exception as error:  # try the next engine
            errors.append(f"{url}: {error}")
    raise RuntimeError("no container engine answers (run scripts/containers-setup.sh): " + "; ".join(errors))


def build_image(client: Any = None, tag: str = IMAGE, base_image: Optional[str] = None,
                containerfile: str = CONTAINERFILE) -> str:
    """Builds the server image (or another of conformance/server's Containerfiles, e.g.
    BALANCER_CONTAINERFILE) from the repository root; returns the tag."""
    client = client or docker_client()
    base = base_image or os.environ.get("FPGASCORE_BASE_IMAGE", "localhost/debian:bookworm")
    client.images.build(path=str(REPO_ROOT), dockerfile=containerfile, tag=tag, rm=True,
                        buildargs={"BASE_IMAGE": base})
    return tag


class EmulatorContainer(_Emulator):
    """The server in a container, published on a free loopback port."""

    def __init__(self, config: ServerConfig, image: str = IMAGE, client: Any = None,
                 startup_timeout: float = 60.0, name: Optional[str] = None,
                 host_port: Optional[int] = None) -> None:
        super().__init__(config)
        self._host_port = host_port  # None: any free port
        self._client = client or docker_client()
        self._image = image
        self._timeout = startup_timeout
        self.name = name or f"fpgascore-emulator-{uuid.uuid4().hex[:8]}"
        self._container: Any = None

    def start(self) -> None:
        volumes = {str(self.key_dir): {"bind": "/run/fpgascore/keys", "mode": "ro"}}
        if self.config.tls_cert:
            volumes[str(self._readable_tls_dir())] = {"bind": "/run/fpgascore/tls", "mode": "ro"}
        env = self.config.environment(self.key_dir, "/run/fpgascore/tls", "/run/fpgascore/keys")
        owners.remove_abandoned(self._client)  # a killed run's servers (owners.py)
        self._container = self._client.containers.run(
            self._image, detach=True, name=self.name, environment=env, volumes=volumes,
            labels={owners.OWNER_LABEL: owners.this_process()},
            ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", self._host_port)})
        try:
            self._wait_listening(self._timeout)
        except RuntimeError:
            self.stop()  # remove the container and the key files; the logs are in the error
            raise

    def _wait_listening(self, timeout: float, after: int = 0) -> None:
        """Waits for the server's n-th "listening" log line (n = after + 1)."""
        deadline = time.monotonic() + timeout
        while True:
            self._container.reload()
            if self._container.status not in ("created", "running"):
                raise RuntimeError(f"container exited ({self._container.status}):\n{self.logs()}")
            if self.logs().count('"event":"listening"') > after and self._published_port():
                self.port = self._published_port()
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"container did not start within {timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def _readable_tls_dir(self) -> pathlib.Path:
        """Copies certificate and key where the container's non-root user can read them.
        The copies sit in this run's private (0700) work directory."""
        tls_dir = self._workdir / "tls"
        tls_dir.mkdir(exist_ok=True)
        tls_dir.chmod(0o755)
        for source in (cast(pathlib.Path, self.config.tls_cert), cast(pathlib.Path, self.config.tls_key)):
            target = tls_dir / source.name
            shutil.copyfile(source, target)
            target.chmod(0o644)
        return tls_dir

    def _published_port(self) -> int:
        bindings = (self._container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{CONTAINER_PORT}/tcp")
        return int(bindings[0]["HostPort"]) if bindings else 0

    def _signal_reload(self) -> None:
        self._container.kill(signal="SIGHUP")

    def crash(self) -> None:
        """Kills the server (SIGKILL), as a machine failure would."""
        self._container.kill(signal="SIGKILL")
        self._container.wait(timeout=30)

    def restart(self, timeout: float = 60.0) -> None:
        """Starts the stopped container again (same name, port and settings)."""
        starts = self.logs().count('"event":"listening"')
        self._container.start()
        self._wait_listening(timeout, after=starts)

    def bounce(self, timeout: float = 15.0) -> None:
        """Stops the server gracefully and starts it again (same name, port and settings)."""
        self._container.stop(timeout=int(timeout))
        self.restart()

    def health(self) -> str:
        """Runs the image's health check command inside the container; returns its output."""
        result = self._container.exec_run(["python3", "-m", "fpgascore_emulator.healthcheck"])
        output: str = result.output.decode(errors="replace").strip()
        return output

    def _read_logs(self) -> str:
        text: str = self._container.logs().decode(errors="replace") if self._container else ""
        return text

    def _halt(self, timeout: float) -> Optional[int]:
        if self._container is None:
            return None
        try:
            self._container.stop(timeout=int(timeout))
            code: Optional[int] = self._container.wait(timeout=int(timeout) + 5).get("StatusCode")
            return code
        finally:
            self._final_logs = self._read_logs()

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        try:
            return super().stop(timeout)
        finally:
            if self._container is not None:
                self._container.remove(force=True)
                self._container = None
