"""The container runtime: each service is a reference-server container (the image of
conformance/server/Containerfile) run through the ``docker`` package — Docker, or podman's
Docker-compatible API. Containers are labelled ``fpgascore.service=<id>`` and
``fpgascore.manager=<manager id>``, so a restarted manager finds its own again and never
touches another manager's. The service's secrets directory is bind-mounted read-only at
/run/fpgascore/secrets; the manager rewrites files in it (renames inside a mounted
directory are seen by the container) and sends SIGHUP.

The image runs as uid 10001: a manager running as root hands the secrets to that uid; any
other manager runs the container as its own uid (a rootless engine must map it through,
e.g. podman's --userns=keep-id, which this slice does not set).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..logs import log
from .runtime import (RELOAD_TIMEOUT_SECONDS, STOP_GRACE_SECONDS, EngineUnavailable, Handle, Runtime,
                      RuntimeFailure, ServerSpec, last_lines, lines_after, reload_events, server_environment,
                      wait_for_event)

IMAGE = "localhost/fpgascore-emulator:dev"
CONTAINER_PORT = "50051/tcp"
SECRETS_IN_CONTAINER = "/run/fpgascore/secrets"
LABEL_SERVICE = "fpgascore.service"
LABEL_MANAGER = "fpgascore.manager"
LABEL_NAME = "fpgascore.name"
IMAGE_UID = 10001
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
                 start_timeout: float = START_TIMEOUT_SECONDS) -> None:
        import docker  # only this runtime needs it

        self._errors = docker.errors
        self._client = client or engine_client()
        self._manager_id = manager_id
        self._image = image
        self.image = image
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
            raise RuntimeFailure(f"image {self._image} not found: build it (docker build -f "
                                 f"conformance/server/Containerfile -t {self._image} .)") from None
        except self._errors.APIError as error:
            raise RuntimeFailure(f"the container engine refused to {action}: {_engine_message(error)}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise EngineUnavailable(f"the container engine does not answer ({action}): {error}") from None

    def _container_name(self, spec: ServerSpec) -> str:
        return f"fpgascore-{spec.name}-{spec.service_id[len('svc_'):]}"

    # -- start ----------------------------------------------------------------------------
    def start(self, spec: ServerSpec) -> Handle:
        name = self._container_name(spec)
        self._remove_named(name)
        volumes = {}
        if spec.tls:
            volumes[str(spec.secrets_dir.resolve())] = {"bind": SECRETS_IN_CONTAINER, "mode": "ro"}
        labels = {LABEL_SERVICE: spec.service_id, LABEL_MANAGER: self._manager_id, LABEL_NAME: spec.name}
        container = self._engine(
            "start the container", self._client.containers.run, self._image, detach=True, name=name,
            environment=server_environment(spec, SECRETS_IN_CONTAINER), volumes=volumes, labels=labels,
            ports={CONTAINER_PORT: (spec.host, spec.port or None)}, user=self._user)
        deadline = time.monotonic() + self._start_timeout
        while True:
            self._engine("inspect the container", container.reload)
            logs = self._engine("read the logs", container.logs).decode(errors="replace")
            if container.status not in ("created", "running"):
                self._remove(container)
                raise RuntimeFailure(f"the container exited ({container.status}): {last_lines(logs, 5)}")
            port = self._published_port(container)
            if port and '"event":"listening"' in logs:
                return Handle(port, {"container_id": container.id, "port": port})
            if time.monotonic() > deadline:
                self._remove(container)
                raise RuntimeFailure(f"the container did not listen within {self._start_timeout:.0f} s: "
                                     f"{last_lines(logs, 5)}")
            time.sleep(0.2)

    @staticmethod
    def _published_port(container: Any) -> int:
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        bindings = ports.get(CONTAINER_PORT)
        return int(bindings[0]["HostPort"]) if bindings else 0

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

    def find(self, spec: ServerSpec, ref: Dict[str, Any]) -> Optional[Handle]:
        found = self._engine("list containers", self._client.containers.list, all=True, filters={
            "label": [f"{LABEL_SERVICE}={spec.service_id}", f"{LABEL_MANAGER}={self._manager_id}"]})
        handle = None
        for container in found:
            port = self._published_port(container)
            if container.status == "running" and port and handle is None:
                handle = Handle(port, {"container_id": container.id, "port": port})
            else:
                self._remove(container)  # exited, or a second one: the manager starts it afresh
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
