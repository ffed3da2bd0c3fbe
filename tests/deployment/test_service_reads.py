"""A service read while the monitor restarts it: the manager answers the state stored now
(CREATING, saved before the restart stops anything), not the RUNNING it read before the restart
took the service's lock. Answering that stale RUNNING let a client call a port whose new server
was not listening yet (seen in CI: test_container_runtime's call after a kill was refused).
Nor the RUNNING stored while the monitor holds the lock to look at a server that has died,
before it saves anything (seen again, the same test, in a fresh clone's scripts/test-all.sh)."""
from __future__ import annotations

import dataclasses
import threading
import time

from fpgascore_emulator.manager.manager import Manager
from fpgascore_emulator.manager.store import CREATING, RUNNING, ServiceRecord, Store


class _NoRuntime:
    """The manager is never started here: nothing reaches a runtime."""
    name = "process"


class _DeadServers(_NoRuntime):
    """Every server it is asked about has exited."""

    def alive(self, handle) -> bool:
        return False


def _running(store: Store) -> ServiceRecord:
    now = time.time()
    record = ServiceRecord(id="svc_0123456789ab", name="busy", model_id="resnet50:1", state=RUNNING, state_message="",
                           host="127.0.0.1", port=50123, ssl_enabled=False, num_replicas=1, runtime="process",
                           created_at=now, updated_at=now, runtime_ref={"pid": 4242})
    store.add_service(record)
    return record


def _read_while_held(manager: Manager, record: ServiceRecord, first=lambda: None) -> ServiceRecord:
    """The manager's answer for ``record`` while another thread (the monitor) holds the service's
    lock, having done ``first`` under it."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with manager._lock(record.id):
            first()
            held.set()
            release.wait(10)
    monitor = threading.Thread(target=hold)
    monitor.start()
    try:
        assert held.wait(10)
        return manager._checked(record)
    finally:
        release.set()
        monitor.join(10)


def test_a_service_being_restarted_is_answered_as_stored_now(tmp_path):
    store = Store(tmp_path / "state")
    manager = Manager(store, _NoRuntime())  # type: ignore[arg-type]
    stale = _running(store)
    # what the monitor's restart does first, holding the service's lock
    answered = _read_while_held(manager, stale, lambda: store.save_service(
        dataclasses.replace(stale, state=CREATING, state_message="restarting")))
    assert (answered.state, answered.state_message) == (CREATING, "restarting")


def test_a_dead_service_the_monitor_is_looking_at_is_answered_as_restarting(tmp_path):
    store = Store(tmp_path / "state")
    manager = Manager(store, _DeadServers())  # type: ignore[arg-type]
    record = _running(store)
    answered = _read_while_held(manager, record)  # the monitor's check of a RUNNING service: nothing saved yet
    assert answered.state == CREATING and answered.state_message.startswith("restarting")
    assert store.service(record.id).state == RUNNING  # a read while the monitor holds the lock saves nothing
