"""A service of several replicas behind nginx (manager/balancer.py), in process and container
mode: each replica serves and is counted on its own /metrics; the balancer spreads
*connections*, not calls (one long-lived channel stays on one replica, many channels reach
every replica); a key rotation reaches every replica; a dead replica is never reported
RUNNING; a restarted manager adopts every piece; scaling keeps the port; delete leaves
nothing. The spread measured here is what conformance/server/MANAGER.md reports."""
from __future__ import annotations

import json

import pytest

from fpgascore import AuthenticationError, ReplicaHealth, ServiceState
from fpgascore_conformance.certs import make_tls_material

from .managers import ROOT, kill_and_wait, port_closed, wait_until
from .test_lifecycle import scorer, scores_ok

REPLICAS = 3
ARTIFACTS = ROOT / "out" / "test-artifacts"


def scored_per_replica(deployments, name: str):
    service = deployments.get_service(name)
    assert len(service.replicas) == service.num_replicas, service.replicas
    return [replica.images_scored for replica in sorted(service.replicas, key=lambda r: r.index)]


def spread(deployments, name, calls):
    """Images scored by each replica during ``calls()``."""
    before = scored_per_replica(deployments, name)
    calls()
    after = scored_per_replica(deployments, name)
    return [a - b for a, b in zip(after, before)]


def create(deployments, tls, replicas: int = REPLICAS):
    deployments.register_model("resnet50")
    return deployments.create_service("replicated", "resnet50", ssl_enabled=True, ssl_certificate=tls.server.cert,
                                      ssl_key=tls.server.key, num_replicas=replicas)


@pytest.mark.parametrize("runtime", ["process", pytest.param("container", marks=pytest.mark.container)])
def test_replicas_behind_one_address(runtime, make_manager, tmp_path):
    tls = make_tls_material(tmp_path / "tls")
    manager = make_manager(runtime)
    with manager.client() as deployments:
        service = create(deployments, tls)
        assert service.state == ServiceState.RUNNING and service.num_replicas == REPLICAS
        status = deployments.get_service("replicated")
        assert [r.health for r in sorted(status.replicas, key=lambda r: r.index)] == [ReplicaHealth.SERVING] * REPLICAS

        def one_channel():
            with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
                for _ in range(12):
                    assert scores_ok(client)

        def many_channels():
            for _ in range(4 * REPLICAS):
                with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
                    assert scores_ok(client)

        long_lived = spread(deployments, "replicated", one_channel)
        reconnecting = spread(deployments, "replicated", many_channels)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"replica-spread-{runtime}.json").write_text(json.dumps(
            {"replicas": REPLICAS, "one_channel_12_calls": long_lived,
             "12_channels_one_call_each": reconnecting}) + "\n")
        # Per connection: one channel's calls all reach one replica; new connections reach them all.
        assert sorted(long_lived) == [0] * (REPLICAS - 1) + [12], long_lived
        assert sum(reconnecting) == 4 * REPLICAS and min(reconnecting) >= 1, reconnecting

        # A rotation reaches every replica: the old key is refused on every connection, the new works.
        keys = deployments.regenerate_auth_keys("replicated", "secondary")
        for _ in range(2 * REPLICAS):
            with scorer(service, service.secondary_key, root_certificates=tls.ca) as stale:
                with pytest.raises(AuthenticationError):
                    stale.score_image(b"x")
        for _ in range(2 * REPLICAS):
            with scorer(service, keys.secondary_key, root_certificates=tls.ca) as client:
                assert scores_ok(client)

        # The service is deleted: every replica and the balancer go, the port closes.
        deployments.delete_service("replicated")
    assert port_closed(service.port)
    assert manager.server_pids() == [] and manager.balancer_pids() == []
    if runtime == "container":
        assert manager.containers(manager_engine()) == []


def manager_engine():
    from fpgascore_conformance import emulator
    return emulator.docker_client()


def test_a_dead_replica_is_never_running_and_is_restarted(make_manager, tmp_path):
    tls = make_tls_material(tmp_path / "tls")
    manager = make_manager("process", monitor_interval=600)  # only the read that finds it dead wakes the monitor
    with manager.client() as deployments:
        service = create(deployments, tls)
        pids = manager.server_pids()
        assert len(pids) == REPLICAS
        kill_and_wait(pids[1])
        seen = deployments.get_service("replicated")
        assert seen.state == ServiceState.CREATING and "restarting" in seen.state_message, seen
        wait_until(lambda: deployments.get_service("replicated").state == ServiceState.RUNNING
                   and len(deployments.get_service("replicated").replicas) == REPLICAS, 60, 0.2, "the restart")
        assert set(manager.server_pids()).isdisjoint(pids)  # the service restarted as one unit
        again = deployments.get_service("replicated")
        assert again.port == service.port
        assert all(r.health == ReplicaHealth.SERVING for r in again.replicas), again.replicas
        with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
            assert scores_ok(client)


def test_restart_adopts_and_scaling_keeps_the_port(make_manager, tmp_path):
    tls = make_tls_material(tmp_path / "tls")
    manager = make_manager("process")
    with manager.client() as deployments:
        service = create(deployments, tls, replicas=1)
        assert service.num_replicas == 1 and manager.balancer_pids() == []
        scaled = deployments.update_service("replicated", num_replicas=REPLICAS)
        assert scaled.num_replicas == REPLICAS and scaled.port == service.port
        assert len(manager.server_pids()) == REPLICAS and len(manager.balancer_pids()) == 1
        with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
            assert scores_ok(client)
    servers, balancers = sorted(manager.server_pids()), manager.balancer_pids()
    manager.kill()
    manager.start()
    assert '"event":"service.adopted"' in manager.logs()
    assert sorted(manager.server_pids()) == servers and manager.balancer_pids() == balancers
    with manager.client() as deployments:
        assert len(deployments.get_service("replicated").replicas) == REPLICAS
        down = deployments.update_service("replicated", num_replicas=1)
        assert down.num_replicas == 1 and down.port == service.port
        assert len(manager.server_pids()) == 1 and manager.balancer_pids() == []
        with scorer(service, service.primary_key, root_certificates=tls.ca) as client:
            assert scores_ok(client)
