"""What only the container runtime does: labels, the secrets' owner and mount, keys never in
the container's environment, its log bounded, a killed container replaced on its port, and an
engine's refusal, or an engine that goes away, answered UNAVAILABLE in the engine's words with
nothing left behind."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from fpgascore import PredictionClient, RetryPolicy, ServiceState, UnavailableError

from .managers import IMAGES, wait_until

pytestmark = pytest.mark.container
IMAGE = (IMAGES / "gradient.jpg").read_bytes()


def exec_output(container, argv) -> bytes:
    """What ``argv`` (a command that always prints) printed in the container. podman's exec
    through its Docker API on a loaded machine has answered with no output at all, three times
    in a row once (CI, 2026-12-02): after three such answers the podman CLI runs it."""
    for _ in range(3):
        output = container.exec_run(argv).output
        if output:
            return output
        time.sleep(0.5)
    return subprocess.run(["podman", "exec", container.id, *argv], capture_output=True, timeout=120,
                          check=True).stdout


def test_a_container_service(make_manager, engine, tls):
    manager = make_manager("container")
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("boxed", "resnet50", ssl_enabled=True,
                                             ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
        [container] = manager.containers(engine)
        assert container.labels["fpgascore.service"] == service.id
        assert container.labels["fpgascore.name"] == "boxed"
        assert container.name.startswith("fpgascore-boxed-")
        environment = "\n".join(container.attrs["Config"]["Env"])
        assert service.primary_key not in environment and service.secondary_key not in environment
        assert "FPGASCORE_PRIMARY_KEY_FILE=/run/fpgascore/secrets/primary.key" in environment
        assert exec_output(container, ["id", "-u"]).strip() == b"10001"
        # The engine bounds the container's log (podman reports it only through its own CLI).
        size = subprocess.run(["podman", "inspect", "--format", "{{.HostConfig.LogConfig.Size}}", container.id],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert size.upper() in ("8MB", "8MIB", "8M", "8388608"), size
        listing = exec_output(container, ["stat", "-c", "%a %u %n", "/run/fpgascore/secrets/primary.key",
                                          "/run/fpgascore/secrets/tls.key"]).decode().split("\n")
        assert listing[:2] == ["600 10001 /run/fpgascore/secrets/primary.key",
                               "600 10001 /run/fpgascore/secrets/tls.key"]

        container.kill()  # SIGKILL, as a machine failure would
        back = wait_until(lambda: (s := deployments.get_service("boxed")).state == ServiceState.RUNNING
                          and [c.id for c in manager.containers(engine)] not in ([], [container.id]) and s,
                          timeout=90, what="a new container")
        assert back.port == service.port
        with PredictionClient(service.ip_address, service.port, use_ssl=True, access_token=service.primary_key,
                              root_certificates=tls.ca, retry_policy=RetryPolicy.disabled(), timeout=30) as client:
            assert client.score_image(IMAGE).shape == (1000,)
        deployments.delete_service("boxed")
    assert manager.containers(engine) == []


def test_an_image_the_engine_cannot_run_is_unavailable_and_leaves_nothing(make_manager, engine):
    manager = make_manager("container", image="localhost/fpgascore-no-such-image:never")
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        with pytest.raises(UnavailableError) as raised:
            deployments.create_service("imageless", "resnet50")
        assert "service 'imageless' did not start" in raised.value.details
        assert "fpgascore-no-such-image" in raised.value.details  # the engine's words name it
        assert deployments.list_services() == []
    assert manager.service_dirs() == [] and manager.containers(engine) == []


class EngineProxy:
    """A Unix-socket relay to the real engine's socket that the test can take away (and bring
    back): the engine going away mid-run, as seen by the manager's docker client."""

    def __init__(self, path: str, engine_socket: str) -> None:
        self.path, self.engine_socket = path, engine_socket
        self._server = None
        self._connections = []

    def start(self) -> "EngineProxy":
        import socketserver
        proxy = self

        class Relay(socketserver.BaseRequestHandler):
            def handle(self):
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(proxy.engine_socket)
                proxy._connections += [self.request, upstream]
                pumps = [threading.Thread(target=pump, args=pair, daemon=True)
                         for pair in ((self.request, upstream), (upstream, self.request))]
                for thread in pumps:
                    thread.start()
                for thread in pumps:
                    thread.join()

        def pump(source, target):
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        if os.path.exists(self.path):
            os.unlink(self.path)
        self._server = socketserver.ThreadingUnixStreamServer(self.path, Relay)
        self._server.daemon_threads, self._server.block_on_close = True, False
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        os.unlink(self.path)
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._connections.clear()


def test_an_engine_that_goes_away_is_unavailable_in_its_words_and_leaves_nothing(
        make_manager, engine, tmp_path, monkeypatch):
    engine_url = os.environ.get("DOCKER_HOST", "unix:///run/podman/podman.sock")
    assert engine_url.startswith("unix://"), engine_url
    proxy = EngineProxy(str(tmp_path / "engine.sock"), engine_url[len("unix://"):]).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
    manager = make_manager("container")
    with manager.client(timeout=120) as deployments:
        deployments.register_model("resnet50")
        kept = deployments.create_service("kept", "resnet50")
        proxy.stop()
        with pytest.raises(UnavailableError) as raised:
            deployments.create_service("engineless", "resnet50")
        assert "did not start" in raised.value.details and "container engine" in raised.value.details
        assert [service.name for service in deployments.list_services()] == ["kept"]
        assert manager.service_dirs() == [kept.id]
        proxy.start()
        deployments.delete_service("kept")
    assert manager.containers(engine) == []
