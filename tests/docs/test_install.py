"""Installing from a local build works by the documented steps, per language: the block of each
language README marked `<!-- snippet: run-by tests/docs/test_install.py -->` runs literally
(`bash -e` in the checkout, HOME a fresh temp directory, so the projects it makes under ~ are
outside the repository and NuGet's package folder starts empty); then that README's quick start
(its first run block, 50051 replaced by the test server's port, as in test_snippets.py) is
built in the fresh project against the installed package and scores an image against the
reference server of the snippet workspace.

Each check also proves the package is the local build, not the tree: Python's fpgascore is
loaded from the venv; Go's binary names the module at vX.Y.Z with the zip's hash, not replaced;
the restored FpgaScore .nupkg is the one built.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import subprocess
import sys

import pytest

from .snippets import ROOT, blocks
from .test_snippets import Workspace, base_env, workspace  # noqa: F401  (the fixture)

VERSION = (ROOT / "VERSION").read_text().strip()
MARKER = "tests/docs/test_install.py"
TOP_CLASS = re.compile(r"(?<!\d)139(?!\d)")  # gradient.jpg's golden top class


def install_block(readme: str) -> str:
    found = [b for b in blocks(readme) if b.marker == "run-by" and b.argument == MARKER]
    assert len(found) == 1, f"{readme}: one block marked run-by {MARKER} expected, found {len(found)}"
    return found[0].code


def quick_start(readme: str, language: str) -> str:
    return next(b for b in blocks(readme) if b.language == language and b.marker is None).code


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    yield home
    for path, dirs, files in os.walk(home):  # the Go module cache is read-only
        for name in dirs + files:
            full = os.path.join(path, name)
            if not os.path.islink(full):
                os.chmod(full, os.stat(full).st_mode | stat.S_IWUSR)


def run_install(readme: str, home, **extra) -> subprocess.CompletedProcess:
    env = {**base_env(), "HOME": str(home), **extra}
    result = subprocess.run(["bash", "-e", "-c", install_block(readme)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, f"{readme}: the install block failed:\n{result.stdout}\n{result.stderr}"
    return result


def scored(result: subprocess.CompletedProcess, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout}\n{result.stderr}"
    assert TOP_CLASS.search(result.stdout), f"{what}: no class 139 in\n{result.stdout}"


def test_python_wheel_in_a_venv(home, workspace):  # noqa: F811
    run_install("python/README.md", home)
    python = str(home / "fpgascore-venv" / "bin" / "python")
    env = workspace.env()  # no PYTHONPATH
    where = subprocess.run([python, "-c", "import fpgascore; print(fpgascore.__file__, fpgascore.__version__)"],
                           cwd=workspace.dir, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(home / "fpgascore-venv")) and where.split()[1] == VERSION, where
    result = subprocess.run([python, "-"], input=workspace.rewrite(quick_start("python/README.md", "python")),
                            cwd=workspace.dir, env=env, capture_output=True, text=True, timeout=120)
    scored(result, "python/README.md's quick start on the installed wheel")


def test_go_module_from_a_file_proxy(home, tmp_path, workspace):  # noqa: F811
    run_install("go/README.md", home, GOMODCACHE=str(tmp_path / "modcache"))
    project = home / "hello-go"
    (project / "main.go").write_text(workspace.rewrite(quick_start("go/README.md", "go")))
    env = {**base_env(), "HOME": str(home), "GOMODCACHE": str(tmp_path / "modcache")}
    build = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/go-env.sh && export GOWORK=off GOFLAGS=-mod=mod "
                            "&& go build -o hello . && go version -m hello"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    row = next(line.split() for line in build.stdout.splitlines()
               if line.split()[:2] == ["dep", "github.com/fpgascore/fpgascore/go"])
    digest = next(line.split()[2] for line in (ROOT / "out/artifacts/go/go.sum.txt").read_text().splitlines()
                  if not line.split()[1].endswith("/go.mod"))
    assert row[2:4] == [f"v{VERSION}", digest], row  # the zip itself, not a replace
    scored(subprocess.run([str(project / "hello")], cwd=workspace.dir, env=workspace.env(), capture_output=True,
                          text=True, timeout=120), "go/README.md's quick start on the module from the file:// proxy")


@pytest.mark.xdist_group("docs/test_install.py::test_csharp")  # the slowest: a worker of its own (tests/conftest.py)
def test_csharp_package_from_a_local_feed(home, workspace):  # noqa: F811
    readme = "csharp/FpgaScore/README.md"
    run_install(readme, home)
    project = home / "hello-csharp"
    assert "fpgascore-local" in (project / "nuget.config").read_text()
    (project / "Program.cs").write_text(workspace.rewrite(quick_start(readme, "csharp")))
    env = {**base_env(), "HOME": str(home)}
    build = subprocess.run(["dotnet", "build", "-o", "out", "-nologo", "-clp:ErrorsOnly"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    nupkg = ROOT / "out" / "artifacts" / "nuget" / f"FpgaScore.{VERSION}.nupkg"
    restored = home / ".nuget" / "packages" / "fpgascore" / VERSION / f"fpgascore.{VERSION}.nupkg.sha512"
    assert restored.read_text().strip() == base64.b64encode(hashlib.sha512(nupkg.read_bytes()).digest()).decode()
    scored(subprocess.run(["dotnet", str(project / "out" / "hello-csharp.dll")], cwd=workspace.dir,
                          env=workspace.env(), capture_output=True, text=True, timeout=120),
           f"{readme}'s quick start on the package from the local feed")


def test_the_install_steps_are_documented_per_language():
    assert "pip install --no-index out/artifacts/python/" in install_block("python/README.md")
    assert "GOPROXY=file://" in install_block("go/README.md")
    assert '<add key="fpgascore-local"' in install_block("csharp/FpgaScore/README.md")
    assert sys.executable
