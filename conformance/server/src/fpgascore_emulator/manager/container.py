"""The container runtime: each service is a reference-server container (the image of
conformance/server/Containerfile) run through the ``docker`` package — Docker, or podman's
Docker-compatible API. Containers are labelled ``fpgascore.service=<id>`` and
``fpgascore.manager=<manager id>``, so a restarted manager finds its own again and never
touches another manager's. The service's secrets directory is bind-mounted read-only at
/run/fpgascore/secrets; the manager rewrites files in it (renames inside a mounted
directory are seen by the container) and sends SIGHUP.

Each server also publishes its Prometheus /metrics (container port 9090) on a loopback port
of the host, which the manager reads. A service of several replicas runs one container per
replica (``fpgascore.replica=<index>``, each on a loopback port of its own) and a balancer
container (``fpgascore.role=balancer``: nginx from the image of
conformance/server/Balancer.Containerfile) in the host's network on the service's address,
its configuration bind-mounted read-only from the service's ``balancer/`` directory.

The image runs as uid 10001: a manager running as root hands the secrets to that uid; any
other manager runs the container as its own uid (a rootless engine must map it through,
e.g. podman's --userns=keep-id, which this slice does not set).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..logs import log
from . import balancer
from .runtime import (RELOAD_TIMEOUT_SECONDS, STOP_GRACE_SECONDS, EngineUnavailable, Handle, Runtime,
                      RuntimeFailure, ServerSpec, accepts, last_lines, lines_after, reload_events, server_environment,
                      wait_for_event)

IMAGE = "localhost/fpgascore-emulator:dev"
BALANCER_IMAGE = "localhost/fpgascore-balancer:dev"
CONTAINER_PORT = "50051/tcp"
METRICS_PORT = 9090
CONTAINER_METRICS_PORT = f"{METRICS_PORT}/tcp"
BALANCER_CONFIG_IN_CONTAINER = "/etc/fpgascore-balancer"
SECRETS_IN_CONTAINER = "/run/fpgascore/secrets"
LABEL_SERVICE = "fpgascore.service"
LABEL_MANAGER = "fpgascore.manager"
LABEL_NAME = "fpgascore.name"
LABEL_REPLICA = "fpgascore.replica"
LABEL_ROLE = "fpgascore.role"
ROLE_SERVER, ROLE_BALANCER = "server", "balancer"
IMAGE_UID = 10001
# The engine's log of each container is bounded (json-file's max-size: Docker's, and podman's
# own log file honours it too).
LOG_OPTIONS = {"max-size": "8m", "max-file": "2"}
START_TIMEOUT_SECONDS = 90.0


def engine_client() -> Any:
    """A docker.DockerClient for DOCKER_HOST, else Docker's or podman's usual socket."""
    import docker

    candidates = [os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else []
    candidates += ["unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"]
    errors = []
    for url in candidates:
        try:
            client = docker.DockerClient(base_url=url, timeout=60)
            client.ping()
            return client
        except Exception as error:  # the next candidate
            errors.append(f"{url}: {error}")
    raise EngineUnavailable("no container engine answers: " + "; ".join(errors))


def _engine_message(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)


class ContainerRuntime(Runtime):
    name = "container"

    def __init__(self, manager_id: str, image: str = IMAGE, client: Any = None,
                 start_timeout: float = START_TIMEOUT_SECONDS, balancer_image: str = BALANCER_IMAGE) -> None:
        import docker  # only this runtime needs it

        self._errors = docker.errors
        self._client = client or engine_client()
        self._manager_id = manager_id
        self._image = image
        self.image = image
        self._balancer_image = balancer_image
        self._start_timeout = start_timeout
        if os.geteuid() == 0:
            self.secrets_owner = (IMAGE_UID, IMAGE_UID)
            self._user: Optional[str] = None
        else:
            self.secrets_owner = None
            self._user = f"{os.getuid()}:{os.getgid()}"

    def _engine(self, action: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs an engine call; its errors become RuntimeFailure with the engine's message."""
        import requests

        try:
            return call(*args, **kwargs)
        except self._errors.ImageNotFound:
            raise RuntimeFailure(f"image {self._image} or {self._balancer_image} not found: build them (docker build "
                                 f"-f conformance/server/Containerfile -t {self._image} . ; docker build -f "
                                 f"conformance/server/Balancer.Containerfile -t {self._balancer_image} .)") from None
        except self._errors.APIError as error:
            raise RuntimeFailure(f"the container engine refused to {action}: {_engine_message(error)}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise EngineUnavailable(f"the container engine does not answer ({action}): {error}") from None

    @staticmethod
    def _log_config() -> Any:
        from docker.types import LogConfig
        return LogConfig(type="json-file", config=dict(LOG_OPTIONS))

    def _container_name(self, spec: ServerSpec, role: str = ROLE_SERVER) -> str:
        name = f"fpgascore-{spec.name}-{spec.service_id[len('svc_'):]}"
        if role == ROLE_BALANCER:
            return name + "-lb"
        return name if spec.replicas <= 1 else f"{name}-{spec.replica}"

    def _labels(self, spec: ServerSpec, role: str = ROLE_SERVER) -> Dict[str, str]:
        labels = {LABEL_SERVICE: spec.service_id, LABEL_MANAGER: self._manager_id, LABEL_NAME: spec.name,
                  LABEL_ROLE: role}
        if role == ROLE_SERVER:
            labels[LABEL_REPLICA] = str(spec.replica)
        return labels

    # -- start ----------------------------------------------------------------------------
    def start(self, spec: ServerSpec) -> Handle:
        name = self._container_name(spec)
        self._remove_named(name)
        volumes = {}
        if spec.tls:
            volumes[str(spec.secrets_dir.resolve())] = {"bind": SECRETS_IN_CONTAINER, "mode": "ro"}
        environment = server_environment(spec, SECRETS_IN_CONTAINER)
        environment.update({"FPGASCORE_METRICS_HOST": "0.0.0.0", "FPGASCORE_METRICS_PORT": str(METRICS_PORT)})
        container = self._engine(
            "start the container", self._client.containers.run, self._image, detach=True, name=name,
            environment=environment, volumes=volumes, labels=self._labels(spec),
            ports={CONTAINER_PORT: (spec.host, spec.port or None), CONTAINER_METRICS_PORT: ("127.0.0.1", None)},
            user=self._user, log_config=self._log_config())
        deadline = time.monotonic() + self._start_timeout
        while True:
            self._engine("inspect the container", container.reload)
            logs = self._engine("read the logs", container.logs).decode(errors="replace")
            if container.status not in ("created", "running"):
                self._remove(container)
                raise RuntimeFailure(f"the container exited ({container.status}): {last_lines(logs, 5)}")
            port = self._published_port(container)
            # Listening in the container is not yet reachable: the engine's port forwarding to a
            # new container can lag on a busy host, and RUNNING means clients can connect.
            if port and '"event":"listening"' in logs and accepts(spec.host, port):
                return self._handle(container, port)
            if time.monotonic() > deadline:
                self._remove(container)
                raise RuntimeFailure(f"the container did not listen within {self._start_timeout:.0f} s: "
                                     f"{last_lines(logs, 5)}")
            time.sleep(0.2)

    @staticmethod
    def _published_port(container: Any, container_port: str = CONTAINER_PORT) -> int:
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        bindings = ports.get(container_port)
        return int(bindings[0]["HostPort"]) if bindings else 0

    def _handle(self, container: Any, port: int) -> Handle:
        return Handle(port, {"container_id": container.id, "port": port,
                             "metrics_port": self._published_port(container, CONTAINER_METRICS_PORT)})

    def _remove_named(self, name: str) -> None:
        """Removes a leftover container of that name if it is this manager's."""
        for container in self._engine("list containers", self._client.containers.list, all=True,
                                      filters={"name": name, "label": f"{LABEL_MANAGER}={self._manager_id}"}):
            if container.name == name:
                self._remove(container)

    def _remove(self, container: Any) -> None:
        try:
            self._engine("remove the container", container.remove, force=True)
        except RuntimeFailure as error:
            if "no such container" not in str(error).lower():
                raise

    # -- state ----------------------------------------------------------------------------
    def _get(self, handle: Handle) -> Any:
        try:
            return self._engine("inspect the container", self._client.containers.get, handle.ref["container_id"])
        except RuntimeFailure as error:
            if isinstance(error, EngineUnavailable):
                raise
            return None  # gone

    def alive(self, handle: Handle) -> bool:
        """Raises EngineUnavailable when the engine does not answer (then nobody knows)."""
        container = self._get(handle)
        return container is not None and container.status == "running"

    def _of_service(self, spec: ServerSpec) -> List[Any]:
        found: List[Any] = self._engine("list containers", self._client.containers.list, all=True, filters={
            "label": [f"{LABEL_SERVICE}={spec.service_id}", f"{LABEL_MANAGER}={self._manager_id}"]})
        return found

    def find(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        handle = None
        for container in self._of_service(spec):
            labels = container.labels or {}
            replica = labels.get(LABEL_REPLICA, "0")
            if labels.get(LABEL_ROLE, ROLE_SERVER) != ROLE_SERVER or replica != str(spec.replica):
                continue
            port = self._published_port(container)
            if container.status == "running" and port and handle is None:
                handle = self._handle(container, port)
            else:
                self._remove(container)  # exited, or a second one: the manager starts it afresh
        return handle

    def metrics_address(self, handle: Handle) -> Optional[Tuple[str, int]]:
        port = int(handle.ref.get("metrics_port") or 0)
        return ("127.0.0.1", port) if port else None

    # -- the balancer ---------------------------------------------------------------------
    def start_balancer(self, spec: ServerSpec, backends: List[Tuple[str, int]]) -> Handle:
        name = self._container_name(spec, ROLE_BALANCER)
        self._remove_named(name)
        directory = spec.directory.resolve() / "balancer"
        balancer.write_config(directory, spec.host, spec.port, backends, "/tmp/nginx.pid")
        config_path = f"{BALANCER_CONFIG_IN_CONTAINER}/{balancer.CONFIG_NAME}"
        container = self._engine(
            "start the balancer container", self._client.containers.run, self._balancer_image,
            command=balancer.command(config_path, "/tmp"), detach=True, name=name, network_mode="host",
            volumes={str(directory): {"bind": BALANCER_CONFIG_IN_CONTAINER, "mode": "ro"}},
            labels=self._labels(spec, ROLE_BALANCER), log_config=self._log_config())
        deadline = time.monotonic() + self._start_timeout
        while True:
            self._engine("inspect the balancer container", container.reload)
            if container.status not in ("created", "running"):
                logs = self._engine("read the logs", container.logs).decode(errors="replace")
                self._remove(container)
                raise RuntimeFailure(f"the balancer container exited ({container.status}): {last_lines(logs, 5)}")
            if container.status == "running" and accepts(spec.host, spec.port):
                return Handle(spec.port, {"container_id": container.id, "port": spec.port})
            if time.monotonic() > deadline:
                self._remove(container)
                raise RuntimeFailure(f"the balancer did not listen within {self._start_timeout:.0f} s")
            time.sleep(0.2)

    def find_balancer(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        handle = None
        for container in self._of_service(spec):
            if (container.labels or {}).get(LABEL_ROLE) != ROLE_BALANCER:
                continue
            if container.status == "running" and handle is None:
                handle = Handle(spec.port, {"container_id": container.id, "port": spec.port})
            else:
                self._remove(container)
        return handle

    def orphans(self, known_ids: Iterable[str]) -> List[str]:
        known = set(known_ids)
        removed = []
        for container in self._engine("list containers", self._client.containers.list, all=True,
                                      filters={"label": f"{LABEL_MANAGER}={self._manager_id}"}):
            if container.labels.get(LABEL_SERVICE) not in known:
                self._remove(container)
                removed.append(f"container {container.name}")
        return removed

    def logs(self, handle: Handle) -> str:
        container = self._get(handle)
        text: str = self._engine("read the logs", container.logs).decode(errors="replace") if container else ""
        return text

    # -- signals --------------------------------------------------------------------------
    def reload(self, handle: Handle, tls: bool) -> None:
        container = self._get(handle)
        if container is None or container.status != "running":
            raise RuntimeFailure("the container is not running")
        signalled = time.time()

        def new_lines() -> str:  # the server's lines since the signal, by their own "ts" (same clock)
            text = self._engine("read the logs", container.logs, since=int(signalled) - 1)
            return lines_after(text.decode(errors="replace"), signalled)

        self._engine("signal the container", container.kill, signal="SIGHUP")
        wait_for_event(new_lines, reload_events(tls), RELOAD_TIMEOUT_SECONDS, lambda: self.alive(handle))

    def stop(self, handle: Handle) -> None:
        container = self._get(handle)
        if container is None:
            return
        try:
            self._engine("stop the container", container.stop, timeout=int(STOP_GRACE_SECONDS) + 2)
        except RuntimeFailure as error:
            if isinstance(error, EngineUnavailable):
                raise
            log("manager.container_stop_failed", container=container.name, error=str(error))
        self._remove(container)
