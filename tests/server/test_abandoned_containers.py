"""A killed run's server containers are removed by the next start (fpgascore_conformance/owners.py):
a container whose owner process is gone goes, one whose owner runs (another run's) stays."""
import subprocess

import pytest

from fpgascore_conformance import owners
from fpgascore_conformance.emulator import EmulatorContainer, ServerConfig

pytestmark = pytest.mark.container


def _gone_owner() -> str:
    """The OWNER_LABEL value of a process that has exited."""
    process = subprocess.Popen(["sleep", "30"])
    owner = owners.owner_of(process.pid)
    process.kill()
    process.wait()
    return owner


def _exists(engine, container_id: str) -> bool:
    return any(c.id == container_id for c in engine.containers.list(all=True, sparse=True))


def test_the_next_start_removes_the_containers_of_a_run_that_is_gone(engine, image):
    sleeper = subprocess.Popen(["sleep", "300"])  # another run's process, alive
    left = kept = elsewhere = None
    try:
        left = engine.containers.create(image, labels={owners.OWNER_LABEL: _gone_owner()})
        kept = engine.containers.create(image, labels={owners.OWNER_LABEL: owners.owner_of(sleeper.pid)})
        elsewhere = engine.containers.create(image, labels={owners.OWNER_LABEL: "1:12345:678"})  # another pid namespace
        assert not owners.runs(left.labels[owners.OWNER_LABEL]) and owners.runs(kept.labels[owners.OWNER_LABEL])
        with EmulatorContainer(ServerConfig(), image=image, client=engine) as server:
            assert server._container.labels[owners.OWNER_LABEL] == owners.this_process()
            assert not _exists(engine, left.id), "the container of a process that is gone was left"
            assert _exists(engine, kept.id), "the container of a process that runs was removed"
            assert _exists(engine, elsewhere.id), "the container of another pid namespace was removed"
    finally:
        sleeper.kill()
        sleeper.wait()
        for container in (left, kept, elsewhere):
            if container is not None and _exists(engine, container.id):
                container.remove(force=True)


def test_a_reused_pid_is_not_the_owner():
    here, ticks = owners.pid_namespace(), owners.start_ticks(1)
    assert ticks is not None and owners.runs(f"{here}:1:{ticks}")
    assert not owners.runs(f"{here}:1:{int(ticks) + 1}")  # pid 1 now, but started at another time
    assert not owners.runs("") and not owners.runs(f"{here}:x:1") and not owners.runs(f"{here}:1:")
