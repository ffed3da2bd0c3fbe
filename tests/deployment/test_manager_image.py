"""The manager as a container (conformance/server/Manager.Containerfile), as MANAGER.md says to
run it: in the host's network, its state a mounted directory, the admin token a mounted file.
From the host: a service with SSL and two replicas (reference servers and nginx inside the
manager's container, as uid 10001) is created and scores; the container restarts and the
service is back on its port with its keys; delete closes the port."""
from __future__ import annotations

import os
import secrets
import time

import pytest

import fpgascore
from fpgascore import ServiceState
from fpgascore_conformance.certs import make_tls_material
from fpgascore_emulator.manager.runtime import free_port

from .managers import TEST_MANAGER_IMAGE, port_closed, wait_until
from .test_lifecycle import scorer, scores_ok

pytestmark = pytest.mark.container
IMAGE_UID = 10001


@pytest.fixture(scope="session")
def manager_image(engine):
    from fpgascore_conformance import emulator
    return emulator.build_image(engine, tag=TEST_MANAGER_IMAGE, containerfile=emulator.MANAGER_CONTAINERFILE)


def answering(address: str, token: str) -> bool:
    try:
        with fpgascore.DeploymentClient(address, admin_token=token, timeout=5) as deployments:
            deployments.list_models()
        return True
    except fpgascore.ScoringError:
        return False


def test_the_manager_image(engine, manager_image, tmp_path):
    state, token_file = tmp_path / "state", tmp_path / "admin.token"
    state.mkdir(mode=0o700)
    token = secrets.token_urlsafe(24)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    for path in (state, token_file):
        os.chown(path, IMAGE_UID, IMAGE_UID)
    port = free_port()
    address = f"127.0.0.1:{port}"
    container = engine.containers.run(
        manager_image, ["--runtime", "process", "--port", str(port), "--admin-token-file", "/run/secrets/admin.token"],
        detach=True, network_mode="host", name=f"fpgascore-manager-test-{secrets.token_hex(4)}",
        volumes={str(state): {"bind": "/var/lib/fpgascore", "mode": "rw"},
                 str(token_file): {"bind": "/run/secrets/admin.token", "mode": "ro"}})
    try:
        wait_until(lambda: answering(address, token), 90, 0.5, "the manager in its container")
        tls = make_tls_material(tmp_path / "tls")
        with fpgascore.DeploymentClient(address, admin_token=token, timeout=120) as deployments:
            deployments.register_model("resnet50")
            service = deployments.create_service("boxed", "resnet50", ssl_enabled=True, ssl_certificate=tls.server.cert,
                                                 ssl_key=tls.server.key, num_replicas=2)
            assert service.state == ServiceState.RUNNING and service.runtime == "process"
            with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
                assert scores_ok(client)
            assert len(deployments.get_service("boxed").replicas) == 2
        assert (state / "manager.db").stat().st_uid == IMAGE_UID  # it runs as the image's user, not root
        assert oct((state / "manager.db").stat().st_mode & 0o777) == "0o600"

        container.restart(timeout=10)  # its services were processes of the container: they are started again
        wait_until(lambda: answering(address, token), 90, 0.5, "the restarted manager")
        with fpgascore.DeploymentClient(address, admin_token=token, timeout=120) as deployments:
            wait_until(lambda: deployments.get_service("boxed").state == ServiceState.RUNNING, 90, 0.5, "the service")
            again = deployments.get_service("boxed")
            assert (again.id, again.port, again.num_replicas) == (service.id, service.port, 2)
            assert tuple(deployments.get_auth_keys("boxed")) == (service.primary_key, service.secondary_key)
            with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
                assert scores_ok(client)
            deployments.delete_service("boxed")
        deadline = time.monotonic() + 30
        while not port_closed(service.port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_closed(service.port)
        assert token not in container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
