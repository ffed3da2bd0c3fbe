import secrets

import pytest

from .managers import TEST_BALANCER_IMAGE, TEST_IMAGE, ManagerProcess


@pytest.fixture(scope="session")
def service_image(engine):
    """The reference-server image of this checkout, under a tag of its own (other runs build
    localhost/fpgascore-emulator:dev from other trees)."""
    from fpgascore_conformance import emulator
    return emulator.build_image(engine, tag=TEST_IMAGE)


@pytest.fixture(scope="session")
def balancer_image(engine):
    """The load balancer's image (nginx) of this checkout, for services of several replicas."""
    from fpgascore_conformance import emulator
    return emulator.build_image(engine, tag=TEST_BALANCER_IMAGE, containerfile=emulator.BALANCER_CONTAINERFILE)


@pytest.fixture
def make_manager(tmp_path, request):
    """make_manager(runtime="process", **options) -> a started ManagerProcess; everything it
    started is removed at the end of the test."""
    made = []

    def make(runtime: str = "process", **options) -> ManagerProcess:
        engine = request.getfixturevalue("engine") if runtime == "container" else None
        if runtime == "container":
            options.setdefault("image", request.getfixturevalue("service_image"))
            options.setdefault("balancer_image", request.getfixturevalue("balancer_image"))
        manager = ManagerProcess(tmp_path / f"state{len(made)}", secrets.token_urlsafe(24), runtime, **options)
        made.append((manager, engine))
        return manager.start()

    yield make
    for manager, engine in made:
        manager.cleanup(engine)
