"""A dead server is never reported RUNNING: it is restarted on its port (within a budget)
or marked FAILED; a restarted manager adopts live servers, restarts dead ones, puts back
files that differ from its database, and removes servers of services it does not know."""
from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest

from fpgascore import AuthenticationError, PredictionClient, RetryPolicy, ServiceState

from .managers import IMAGES, RUN_EMULATOR, kill_and_wait, wait_until

IMAGE = (IMAGES / "gradient.jpg").read_bytes()


def score(service, key, tls):
    with PredictionClient(service.ip_address, service.port, use_ssl=True, access_token=key,
                          root_certificates=tls.ca, retry_policy=RetryPolicy.disabled(), timeout=30) as client:
        return client.score_image(IMAGE)


def accepted(service, key, tls) -> bool:
    try:
        score(service, key, tls)
        return True
    except AuthenticationError:
        return False


def crash(manager) -> int:
    [pid] = manager.server_pids()
    kill_and_wait(pid)
    return pid


@pytest.fixture
def ssl_service(make_manager, tls):
    def make(**manager_options):
        manager = make_manager(**manager_options)
        with manager.client() as deployments:
            deployments.register_model("resnet50")
            service = deployments.create_service("watched", "resnet50", ssl_enabled=True,
                                                 ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
        return manager, service
    return make


def test_a_crashed_server_is_not_reported_running_and_is_restarted_on_its_port(ssl_service, tls):
    manager, service = ssl_service(monitor_interval=600)  # only the read that finds it dead wakes the monitor
    old = crash(manager)
    with manager.client() as deployments:
        seen = deployments.get_service("watched")
        assert seen.state == ServiceState.CREATING and "restarting" in seen.state_message
        back = wait_until(lambda: (s := deployments.get_service("watched")).state == ServiceState.RUNNING and s,
                          what="the service to run again")
        assert back.port == service.port
        assert tuple(deployments.get_auth_keys("watched")) == (service.primary_key, service.secondary_key)
    assert manager.server_pids() != [old]
    assert score(service, service.primary_key, tls).shape == (1000,)


def test_a_server_that_keeps_dying_is_failed_until_updated(ssl_service, tls):
    manager, service = ssl_service()
    with manager.client() as deployments:
        for _ in range(3):  # the budget: three restarts within five minutes
            old = crash(manager)
            wait_until(lambda: deployments.get_service("watched").state == ServiceState.RUNNING
                       and manager.server_pids() not in ([], [old]), what="a restart")
        crash(manager)
        failed = wait_until(lambda: (s := deployments.get_service("watched")).state == ServiceState.FAILED and s,
                            what="the service to fail")
        assert "not restarted again" in failed.state_message
        assert manager.server_pids() == []
        revived = deployments.update_service("watched")  # an update starts a failed service again
        assert revived.state == ServiceState.RUNNING and revived.port == service.port
    assert score(service, service.secondary_key, tls).shape == (1000,)


def test_a_server_that_died_while_the_manager_was_down_is_restarted(ssl_service, tls):
    manager, service = ssl_service()
    manager.stop()
    crash(manager)
    manager.start()
    assert "restarted by the manager: its server was not running" in manager.logs()
    with manager.client() as deployments:
        again = deployments.get_service("watched")
    assert (again.state, again.port) == (ServiceState.RUNNING, service.port)
    assert score(service, service.primary_key, tls).shape == (1000,)


def test_secret_files_that_differ_from_the_database_are_put_back(ssl_service, tls):
    manager, service = ssl_service()
    manager.kill()
    key_file = manager.state_dir / "services" / service.id / "secrets" / "primary.key"
    key_file.write_text("a-key-the-manager-never-issued")  # as if a manager stopped mid-way through a change
    [pid] = manager.server_pids()
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: accepted(service, "a-key-the-manager-never-issued", tls), what="the server to take the key")
    assert not accepted(service, service.primary_key, tls)
    manager.start()  # adopts the server, rewrites the file from its database, reloads the server
    assert key_file.read_text() == service.primary_key
    assert score(service, service.primary_key, tls).shape == (1000,)
    with pytest.raises(AuthenticationError):
        score(service, "a-key-the-manager-never-issued", tls)


def test_servers_of_unknown_services_are_removed(make_manager, tmp_path):
    manager = make_manager()
    manager.stop()
    stray_dir = manager.state_dir / "services" / "svc_000000000000"
    stray_dir.mkdir(parents=True)
    stray = subprocess.Popen([str(RUN_EMULATOR), "serve", "--port", "0", "--port-file", str(stray_dir / "port")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (stray_dir / "port").exists(), what="the stray server")
        manager.start()
        assert stray.wait(30) is not None
        assert "manager.orphan_removed" in manager.logs()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


def test_a_port_taken_while_the_manager_was_down_fails_the_service_in_the_servers_words(ssl_service, tls):
    """The service's port, taken by another program while its server and manager were down: the
    restart cannot listen, so the service is FAILED (never RUNNING) with the server's reason, and
    an update answers UNAVAILABLE with it; once the port is free again an update brings it back."""
    from fpgascore import UnavailableError

    manager, service = ssl_service()
    manager.stop()
    crash(manager)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def taken() -> bool:  # the killed server's connections can hold the port for a while (FIN_WAIT)
        try:
            squatter.bind((service.ip_address, service.port))
            return True
        except OSError:
            return False

    wait_until(taken, timeout=90, interval=0.5, what=f"port {service.port} to be free for the test to take")
    squatter.listen()
    try:
        manager.start()
        with manager.client() as deployments:
            failed = wait_until(lambda: (s := deployments.get_service("watched")).state == ServiceState.FAILED and s,
                                timeout=120, what="the service to fail")
            assert str(service.port) in failed.state_message, failed.state_message
            with pytest.raises(UnavailableError) as refused:
                deployments.update_service("watched")
            assert "did not start" in refused.value.details and str(service.port) in refused.value.details
            assert deployments.get_service("watched").state == ServiceState.FAILED
    finally:
        squatter.close()
    with manager.client() as deployments:
        revived = deployments.update_service("watched")
        assert (revived.state, revived.port) == (ServiceState.RUNNING, service.port)
    assert score(service, service.primary_key, tls).shape == (1000,)
