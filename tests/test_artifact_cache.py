"""scripts/build-artifacts.sh builds a package once per set of sources and never hands out a stale
one: run in a copy of the parts of the checkout the wheel is made from (scripts/, python/,
VERSION, LICENSE), with a cache folder of the test's own (FPGASCORE_ARTIFACT_CACHE, or a machine
cache of its own: FPGASCORE_CACHE_DIR). Also: Go's build cache follows FPGASCORE_CACHE_DIR."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()
WHEEL = f"fpgascore-{VERSION}-py3-none-any.whl"


def build(checkout: pathlib.Path, out: pathlib.Path, cache: pathlib.Path | None = None,
          machine_cache: str | None = None) -> str:
    env = {name: value for name, value in os.environ.items()
           if name not in ("FPGASCORE_ARTIFACT_CACHE", "FPGASCORE_CACHE_DIR")}
    if cache is not None:
        env["FPGASCORE_ARTIFACT_CACHE"] = str(cache)
    if machine_cache is not None:
        env["FPGASCORE_CACHE_DIR"] = machine_cache
    result = subprocess.run([str(checkout / "scripts" / "build-artifacts.sh"), str(out), "python"],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


def version_module(wheel: pathlib.Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read("fpgascore/_version.py").decode()


def copy_checkout(target: pathlib.Path) -> pathlib.Path:
    target.mkdir()
    for name in ("scripts", "python"):
        shutil.copytree(ROOT / name, target / name, symlinks=True,
                        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    for name in ("VERSION", "LICENSE"):
        shutil.copy(ROOT / name, target / name)
    return target


def test_a_wheel_is_built_once_per_set_of_sources(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    cache = tmp_path / "cache"

    first = build(checkout, tmp_path / "a", cache)
    assert "building the python artifact" in first, first
    again = build(checkout, tmp_path / "b", cache)
    assert "built before from the same sources" in again and "building the python" not in again, again
    assert (tmp_path / "a" / "python" / WHEEL).read_bytes() == (tmp_path / "b" / "python" / WHEEL).read_bytes()

    # A source file changes (not committed: the key is the files as they are): a new build, with it.
    version_file = checkout / "python" / "src" / "fpgascore" / "_version.py"
    version_file.write_text(version_file.read_text() + "# changed\n")
    changed = build(checkout, tmp_path / "c", cache)
    assert "building the python artifact" in changed, changed
    assert version_module(tmp_path / "c" / "python" / WHEEL).endswith("# changed\n")
    assert not version_module(tmp_path / "a" / "python" / WHEEL).endswith("# changed\n")
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def test_clones_share_the_machine_cache_and_off_keeps_builds_in_the_clone(tmp_path):
    first, second = copy_checkout(tmp_path / "clone1"), copy_checkout(tmp_path / "clone2")
    machine = tmp_path / "machine"

    built = build(first, tmp_path / "a", machine_cache=str(machine))
    assert "building the python artifact" in built and str(machine / "artifacts") in built, built
    reused = build(second, tmp_path / "b", machine_cache=str(machine))
    assert "built before from the same sources" in reused and str(machine / "artifacts") in reused, reused
    assert (tmp_path / "a" / "python" / WHEEL).read_bytes() == (tmp_path / "b" / "python" / WHEEL).read_bytes()
    assert not (first / "out").exists() and not (second / "out").exists()

    # FPGASCORE_CACHE_DIR=off: nothing of the machine's; the clone builds into its own out/cache.
    own = build(second, tmp_path / "c", machine_cache="off")
    assert "building the python artifact" in own and str(second / "out" / "cache" / "artifacts") in own, own
    assert len([p for p in (machine / "artifacts").iterdir() if p.is_dir()]) == 1


@pytest.mark.skipif(not (ROOT / ".tools" / "go-stack").exists(), reason="no Go stack (scripts/setup.sh)")
def test_go_uses_the_machine_build_cache_and_workspace_trees_unless_it_is_off(tmp_path):
    # A tools folder of the test's own (the checkout's .tools/gowork stays as the other tests use it).
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "go-stack").symlink_to((ROOT / ".tools" / "go-stack").resolve())

    def go_env(setting: str) -> tuple[str, str]:
        env = {**os.environ, "FPGASCORE_CACHE_DIR": setting, "FPGASCORE_TOOLS_DIR": str(tools)}
        result = subprocess.run(["bash", "-c", 'source scripts/go-env.sh && go env GOCACHE && cat "$GOWORK"'],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        gocache, gowork = result.stdout.split("\n", 1)
        grpc = next(line.split(" => ")[1] for line in gowork.splitlines() if line.startswith("replace google.golang.org/grpc "))
        return gocache, grpc

    machine = tmp_path / "machine"
    gocache, grpc = go_env(str(machine))
    assert gocache == str(machine / "go-build")
    # grpc's copy (a newer go line) is the machine's, one path for every clone: Go's cache hits for it.
    assert grpc.startswith(str(machine / "go-workspace") + "/") and pathlib.Path(grpc, "go.mod").is_file(), grpc
    gocache, grpc = go_env("off")
    assert gocache == str(tools / "gocache")
    assert grpc.startswith(str(tools / "gowork" / "copies") + "/") and pathlib.Path(grpc, "go.mod").is_file(), grpc
