"""The seed's lifecycle, end to end, in process and container mode: create with SSL and a
self-signed certificate → read the keys → score with the primary (roots from
GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) → regenerate the secondary while calls run with the
primary (none fails), the old secondary is refused → the same for the primary → update to a
new certificate (a fresh client trusting the new root works, the old root no longer does) →
scale to 3 replicas behind nginx (same port; fresh connections reach each) → crash and
restart the manager (same service, port, replicas and keys, still scoring; adopted, not
restarted) → delete (servers and balancer gone, port closed, files removed)."""
from __future__ import annotations

import hashlib
import json
import pathlib
import threading
import time

import pytest

import fpgascore
from fpgascore import (AuthenticationError, NotFoundError, PredictionClient, RetryPolicy, ServiceState,
                       UntrustedCertificateError)
from fpgascore_conformance.certs import make_tls_material

from .managers import IMAGES, ROOT, port_closed

REPLICAS = 3
GOLDEN = json.loads((ROOT / "conformance" / "testdata" / "golden.json").read_text())
IMAGE = (IMAGES / "gradient.jpg").read_bytes()


def scores_ok(client: PredictionClient) -> bool:
    scores = client.score_image(IMAGE)
    return hashlib.sha256(scores.astype("<f4").tobytes()).hexdigest() == GOLDEN["gradient.jpg"]["sha256"]


def scorer(service, key, **options) -> PredictionClient:
    return PredictionClient(service.ip_address, service.port, use_ssl=True, access_token=key,
                            retry_policy=RetryPolicy.disabled(), timeout=30, **options)


class Caller(threading.Thread):
    """Scores back to back with one key until stopped; records each call's span and failure."""

    def __init__(self, client: PredictionClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.spans = []
        self.failures = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            start = time.monotonic()
            try:
                assert scores_ok(self.client)
            except Exception as error:  # every failure is a finding
                self.failures.append(repr(error))
            self.spans.append((start, time.monotonic()))

    def calls_between(self, start: float, end: float) -> int:
        return sum(1 for s, e in self.spans if s <= end and e >= start)


def rotate_under_load(deployments, service, key_type: str, calling_key: str, old_key: str):
    """Regenerates ``key_type`` while another thread scores with ``calling_key``: no call
    fails, and the old key is refused as soon as the regeneration has answered."""
    with scorer(service, calling_key) as client, scorer(service, old_key) as stale:
        assert scores_ok(stale)  # the old key works up to the regeneration (and the connection is up)
        caller = Caller(client)
        caller.start()
        while len(caller.spans) < 3 and not caller.failures:
            time.sleep(0.02)
        started = time.monotonic()
        keys = deployments.regenerate_auth_keys(service.name, key_type)
        finished = time.monotonic()
        with pytest.raises(AuthenticationError):
            stale.score_image(IMAGE)
        done = len(caller.spans)
        while len(caller.spans) < done + 3 and not caller.failures:
            time.sleep(0.02)
        caller.halt.set()
        caller.join(30)
    assert caller.failures == [], caller.failures
    assert caller.calls_between(started, finished) >= 1, "no call ran while the key was regenerated"
    return keys


@pytest.mark.parametrize("runtime", ["process", pytest.param("container", marks=pytest.mark.container)])
def test_lifecycle(runtime, make_manager, tmp_path, monkeypatch):
    first = make_tls_material(tmp_path / "tls-first")
    manager = make_manager(runtime)
    with manager.client() as deployments:
        model = deployments.register_model("resnet50", description="the emulated ResNet-50")
        assert model.id == "resnet50:1"
        service = deployments.create_service("lifecycle", model.id, ssl_enabled=True,
                                             ssl_certificate=first.self_signed.cert, ssl_key=first.self_signed.key)
        assert service.state == ServiceState.RUNNING and service.runtime == runtime
        assert service.ipAddress == "127.0.0.1" and service.port > 0 and service.sslEnabled
        assert service.modelId == "resnet50:1" and service.numReplicas == 1
        assert service.primary_key and service.secondary_key and service.primary_key != service.secondary_key
        assert len(service.primary_key) >= 40 and len(service.secondary_key) >= 40
        keys = deployments.get_auth_keys("lifecycle")
        assert tuple(keys) == (service.primary_key, service.secondary_key)

        # Score with the primary key; the root comes from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
        monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(first.self_signed.cert))
        with scorer(service, keys.primary_key) as client:
            assert scores_ok(client)

        # Regenerate the secondary while calls run with the primary; then the other way round.
        rotated = rotate_under_load(deployments, service, "secondary", keys.primary_key, keys.secondary_key)
        assert rotated.primary_key == keys.primary_key and rotated.secondary_key != keys.secondary_key
        with scorer(service, rotated.secondary_key) as client:
            assert scores_ok(client)
        final = rotate_under_load(deployments, service, "PRIMARY", rotated.secondary_key, keys.primary_key)
        assert final.secondary_key == rotated.secondary_key and final.primary_key != keys.primary_key
        assert tuple(deployments.get_auth_keys(service.id)) == tuple(final)

        # A new certificate, from another CA: swapped in by reload, same port.
        second = make_tls_material(tmp_path / "tls-second")
        updated = deployments.update_service("lifecycle", ssl_certificate=second.server.cert,
                                             ssl_key=second.server.key)
        assert updated.port == service.port and updated.state == ServiceState.RUNNING
        assert updated.certificate_sha256 and updated.certificate_sha256 != service.certificate_sha256
        assert updated.primary_key is None  # keys are not re-issued by a certificate swap
        monkeypatch.delenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
        with scorer(service, final.primary_key, root_certificates=second.ca) as client:
            assert scores_ok(client)
        with scorer(service, final.primary_key, root_certificates=first.self_signed.cert) as client:
            with pytest.raises(UntrustedCertificateError):
                client.score_image(IMAGE)

        # Scale to three replicas behind nginx, on the same address, each with the keys and certificate.
        scaled = deployments.update_service("lifecycle", num_replicas=REPLICAS)
        assert (scaled.num_replicas, scaled.port, scaled.state) == (REPLICAS, service.port, ServiceState.RUNNING)
        for _ in range(2 * REPLICAS):  # fresh connections reach every replica (the balancer is per connection)
            with scorer(service, final.primary_key, root_certificates=second.ca) as client:
                assert scores_ok(client)
        replicas = deployments.get_service("lifecycle").replicas
        assert len(replicas) == REPLICAS and all(replica.images_scored >= 1 for replica in replicas), replicas

    # The manager crashes and comes back: nothing is lost, no server was restarted.
    manager.kill()
    with scorer(service, final.primary_key, root_certificates=second.ca) as client:
        assert scores_ok(client)  # the service does not need its manager
    earlier = len(manager.logs())
    manager.start()
    restarted_log = manager.logs()[earlier:]
    assert '"event":"service.adopted"' in restarted_log
    assert '"event":"service.started"' not in restarted_log
    with manager.client() as deployments:
        again = deployments.get_service("lifecycle")
        assert (again.id, again.port, again.state, again.certificate_sha256, again.num_replicas) == \
            (service.id, service.port, ServiceState.RUNNING, updated.certificate_sha256, REPLICAS)
        assert len(again.replicas) == REPLICAS
        assert tuple(deployments.get_auth_keys("lifecycle")) == tuple(final)
        assert [s.id for s in deployments.list_services()] == [service.id]
        with scorer(again, final.secondary_key, root_certificates=second.ca) as client:
            assert scores_ok(client)

        server_logs = service_logs(manager, runtime, service.id)
        assert '"event":"listening"' in server_logs
        for secret in (*final, keys.primary_key, keys.secondary_key, manager.token):
            assert secret not in manager.logs() and secret not in server_logs

        deployments.delete_service("lifecycle")
        with pytest.raises(NotFoundError):
            deployments.get_service("lifecycle")
        assert deployments.list_services() == []
    assert port_closed(service.port)
    assert manager.service_dirs() == []
    if runtime == "process":
        assert manager.server_pids() == [] and manager.balancer_pids() == []
    else:
        from fpgascore_conformance import emulator
        assert manager.containers(emulator.docker_client()) == []


def service_logs(manager, runtime: str, service_id: str) -> str:
    """Every server's and balancer's log of the service."""
    if runtime == "process":
        directory = manager.state_dir / "services" / service_id
        return "".join(path.read_text() for path in sorted(directory.rglob("*.log")))
    from fpgascore_conformance import emulator
    containers = emulator.docker_client().containers.list(filters={"label": f"fpgascore.service={service_id}"})
    assert len(containers) == REPLICAS + 1  # the replicas and their balancer
    return "".join(container.logs().decode(errors="replace") for container in containers)


def test_keys_files_and_database_are_private(make_manager, tls):
    manager = make_manager()
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("private", "resnet50", ssl_enabled=True,
                                             ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
    assert (manager.state_dir.stat().st_mode & 0o777) == 0o700
    assert (manager.state_dir / "manager.db").stat().st_mode & 0o777 == 0o600
    secrets_dir = manager.state_dir / "services" / service.id / "secrets"
    assert secrets_dir.stat().st_mode & 0o777 == 0o700
    files = sorted(path.name for path in secrets_dir.iterdir())
    assert files == ["primary.key", "secondary.key", "tls.crt", "tls.key"]
    for path in secrets_dir.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (secrets_dir / "primary.key").read_text() == service.primary_key
    # The server got its keys through files: neither its command line nor its environment holds one.
    [pid] = manager.server_pids()
    for name in ("cmdline", "environ"):
        text = pathlib.Path(f"/proc/{pid}/{name}").read_bytes()
        assert service.primary_key.encode() not in text and service.secondary_key.encode() not in text
        assert manager.token.encode() not in text


def test_ssl_on_and_off_and_another_model_restart_on_the_same_port(make_manager, tls):
    manager = make_manager()
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        plain = deployments.create_service("toggled", "resnet50")
        assert plain.primary_key is None and not plain.ssl_enabled
        with PredictionClient(plain.ip_address, plain.port, retry_policy=RetryPolicy.disabled()) as client:
            assert scores_ok(client)  # without SSL no key is needed

        secured = deployments.update_service("toggled", ssl_enabled=True, ssl_certificate=tls.server.cert,
                                             ssl_key=tls.server.key)
        assert secured.ssl_enabled and secured.port == plain.port and secured.state == ServiceState.RUNNING
        assert secured.primary_key and secured.secondary_key  # issued by this update, answered once
        assert deployments.get_service("toggled").primary_key is None
        with scorer(secured, secured.primary_key, root_certificates=tls.ca) as client:
            assert scores_ok(client)
        with PredictionClient(plain.ip_address, plain.port, use_ssl=True, root_certificates=tls.ca,
                              retry_policy=RetryPolicy.disabled()) as keyless:
            with pytest.raises(AuthenticationError):
                keyless.score_image(IMAGE)

        other = deployments.register_model("inception")
        moved = deployments.update_service("toggled", model_id=other)
        assert moved.model_id == "inception:1" and moved.port == plain.port and moved.primary_key is None
        assert tuple(deployments.get_auth_keys("toggled")) == (secured.primary_key, secured.secondary_key)
        with scorer(moved, secured.primary_key, root_certificates=tls.ca, model_name="inception") as client:
            assert scores_ok(client)  # the server now serves the model's name

        opened = deployments.update_service("toggled", ssl_enabled=False)
        assert not opened.ssl_enabled and opened.port == plain.port and opened.certificate_sha256 == ""
        with pytest.raises(fpgascore.FailedPreconditionError):
            deployments.get_auth_keys("toggled")
        assert manager.state_dir.joinpath("services", plain.id, "secrets").exists()
        assert list(manager.state_dir.joinpath("services", plain.id, "secrets").iterdir()) == []
        with PredictionClient(plain.ip_address, plain.port, retry_policy=RetryPolicy.disabled(),
                              model_name="inception") as client:
            assert scores_ok(client)
