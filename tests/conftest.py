"""Shared pytest setup for the cross-cutting tests (server, container, wire vectors).

Parallel runs (pytest-xdist, `-n N --dist loadgroup`, as scripts/test-all.sh runs this suite):
every test is in an xdist group, so that a group's tests run on one worker, one after another,
and its module fixtures (servers, builds) are made once. By default a group is the test's file;
a test file can split itself (tests/docs/test_snippets.py groups its blocks by language, so the
Go and the C# builds run on different workers) with `pytest.mark.xdist_group(NAME)`. The groups
whose tests take longest are handed out first (SLOW_FIRST), so that none starts at the end.

Builds that share a folder of the checkout (dotnet's obj/ under csharp/) run one at a time in
any number of concurrent runs: scripts/shims/dotnet, first on PATH for the tests and their
subprocesses, takes a lock per checkout around dotnet's build commands.
"""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in ("python/src", "conformance/server/src", "conformance/runner/src"):
    if str(ROOT / path) not in sys.path:
        sys.path.insert(0, str(ROOT / path))
SHIMS = str(ROOT / "scripts" / "shims")
if os.environ.get("PATH", "").split(os.pathsep)[0] != SHIMS:
    os.environ["PATH"] = os.pathsep.join([SHIMS, os.environ.get("PATH", "")])

import pytest  # noqa: E402

from fpgascore_conformance.certs import make_tls_material  # noqa: E402

# Group-name prefixes, slowest first (measured: docs/ builds every README's programs and the
# packages, test_cli_agreement builds two CLIs); the other groups keep their collection order.
SLOW_FIRST = ("docs/test_snippets.py::csharp", "docs/test_install.py::test_csharp", "test_cli_agreement.py",
              "docs/test_snippets.py::go", "docs/test_install.py", "docs/", "conformance_runner/",
              "server/test_faults.py", "deployment/")


def _group(item) -> str:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return item.nodeid.split("::", 1)[0]
    return marker.args[0] if marker.args else marker.kwargs.get("name", "")


def _rank(group: str) -> int:
    return next((i for i, prefix in enumerate(SLOW_FIRST) if group.startswith(prefix)), len(SLOW_FIRST))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which appends each group's name to the test's id
def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "loadgroup", False):  # only in the workers of `--dist loadgroup`
        return
    first_seen = {}
    for index, item in enumerate(items):
        group = _group(item)
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
        first_seen.setdefault(group, index)
    # A stable sort keeps each group's tests in their order and next to each other.
    items.sort(key=lambda item: (_rank(_group(item)), first_seen[_group(item)]))


@pytest.fixture(scope="session")
def engine():
    """The container engine (Docker or podman's API) of the container tests."""
    from fpgascore_conformance import emulator
    try:
        return emulator.docker_client()
    except RuntimeError as error:
        pytest.fail(f"container tests need an engine (scripts/containers-setup.sh): {error}")


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """Fresh certificates for the whole session (CA, server, self-signed, expired, ...)."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))
