"""scripts/build-artifacts.sh builds a package once per set of sources and never hands out a stale
one: run in a copy of the parts of the checkout the wheel is made from (scripts/, python/,
VERSION, LICENSE), with a cache folder of the test's own (FPGASCORE_ARTIFACT_CACHE)."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()
WHEEL = f"fpgascore-{VERSION}-py3-none-any.whl"


def build(checkout: pathlib.Path, out: pathlib.Path, cache: pathlib.Path) -> str:
    result = subprocess.run([str(checkout / "scripts" / "build-artifacts.sh"), str(out), "python"],
                            env={**os.environ, "FPGASCORE_ARTIFACT_CACHE": str(cache)},
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


def version_module(wheel: pathlib.Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read("fpgascore/_version.py").decode()


def test_a_wheel_is_built_once_per_set_of_sources(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("scripts", "python"):
        shutil.copytree(ROOT / name, checkout / name, symlinks=True,
                        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    for name in ("VERSION", "LICENSE"):
        shutil.copy(ROOT / name, checkout / name)
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
