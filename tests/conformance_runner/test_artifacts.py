"""--artifacts DIR: the built-in drivers on the release packages (scripts/build-artifacts.sh),
not on the tree. The Python column runs here (a wheel builds in seconds); the Go and C#
columns' builds take minutes on a small machine and run in scripts/test-all.sh's conformance
suite, which tests all three packages this way."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import zipfile

import pytest

from fpgascore_conformance import artifacts, drivers

from .conftest import REPO, PYTHON, run_conformance

VERSION = (REPO / "VERSION").read_text().strip()
WHEEL = f"fpgascore-{VERSION}-py3-none-any.whl"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> pathlib.Path:
    """scripts/build-artifacts.sh OUT python: the wheel, as a release builds it."""
    out = tmp_path_factory.mktemp("artifacts")
    done = subprocess.run([str(REPO / "scripts" / "build-artifacts.sh"), str(out), "python"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "python" / WHEEL).is_file()
    assert WHEEL in (out / "MANIFEST.txt").read_text()
    return out


def without(wheel: pathlib.Path, out: pathlib.Path, member: str) -> pathlib.Path:
    """A copy of WHEEL (same name, in OUT/python) without MEMBER: a packaging bug."""
    (out / "python").mkdir(parents=True)
    broken = out / "python" / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as dst:
        assert member in src.namelist()
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info))
    return broken


def test_the_python_column_runs_on_the_wheel(built, workdir, tmp_path):
    outcome = run_conformance(["--artifacts", str(built), "--language", "python",
                               "--case", "image-jpeg@plaintext", "--case", "batch-two-images"],
                              cwd=workdir, out=tmp_path / "out")
    assert outcome.returncode == 0, outcome.stdout[-3000:]
    assert set(outcome.statuses("python").values()) == {"pass"}
    assert f"Packages tested (--artifacts), not the tree: {built}: python {WHEEL}" in outcome.matrix
    assert outcome.stdout.rstrip().endswith("(on the built packages)")
    log = (outcome.directory / "build-python.log").read_text()
    client = [line for line in log.splitlines() if line.startswith("python driver: client ")]
    assert client and "/venv/lib/" in client[0] and "/site-packages/fpgascore/__init__.py" in client[0], log
    assert str(REPO / "python" / "src") not in client[0]


def test_the_python_driver_does_not_load_the_checkout(built):
    """The driver as the runner starts it (its spec's environment over the runner's, whose
    PYTHONPATH has python/src, as scripts/conformance.sh sets it) drives the installed wheel."""
    spec = artifacts.specs(built, artifacts.find(built, ["python"]))["python"]
    drivers.build(spec, built / "build.log")
    assert "python/src" not in spec.env["PYTHONPATH"]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'python' / 'src'}:{REPO / 'conformance' / 'runner' / 'src'}",
           **spec.env}
    done = subprocess.run([*spec.run, "--where"], cwd=spec.cwd, env=env, capture_output=True, text=True, timeout=60)
    where = json.loads(done.stdout)
    assert pathlib.Path(where["fpgascore"]).is_relative_to(artifacts.build_dir(artifacts.find(built, ["python"])["python"]))
    assert "site-packages" in where["fpgascore"] and not where["fpgascore"].startswith(str(REPO / "python"))
    assert where["version"] == VERSION and spec.client_version == VERSION


def test_a_checkout_on_the_path_is_refused(built, tmp_path):
    """The build's check: an environment whose fpgascore is the checkout's is not the wheel's."""
    folder = tmp_path / "build"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", "--system-site-packages", str(folder / "venv")], check=True)
    site = next((folder / "venv" / "lib").glob("python3*/site-packages"))
    (site / "checkout.pth").write_text(str(REPO / "python" / "src") + "\n")
    artifact = artifacts.find(built, ["python"])["python"]
    with pytest.raises(artifacts.ArtifactError, match="loads fpgascore from .*python/src.*not from the wheel"):
        artifacts.check_python(artifact, folder)


def test_a_wheel_without_its_labels_fails(built, workdir, tmp_path):
    """A packaging bug the tree run cannot see: the wheel lacks imagenet_classes.txt (package
    data), so top-k labels fail in the installed client and the image cases fail."""
    broken = tmp_path / "broken"
    without(built / "python" / WHEEL, broken, "fpgascore/imagenet_classes.txt")
    outcome = run_conformance(["--artifacts", str(broken), "--language", "python", "--case", "image-jpeg@plaintext"],
                              cwd=workdir, out=tmp_path / "out")
    assert outcome.returncode == 1
    assert outcome.statuses("python")["image-jpeg@plaintext"] == "fail"
    problems = " ".join(outcome.results[("python", "image-jpeg@plaintext")]["problems"])
    assert "FileNotFoundError" in problems and "/venv/lib/" in problems, problems   # the wheel's file is missing


def test_missing_packages_are_named(built, workdir, tmp_path):
    outcome = subprocess.run([str(REPO / "scripts" / "conformance.sh"), "--server=process", "--artifacts", str(built),
                              "--language", "python,csharp", "--case", "image-jpeg@plaintext", "--out", str(tmp_path)],
                             cwd=workdir, env={**os.environ, "FPGASCORE_SKIP_SETUP": "1"},
                             capture_output=True, text=True, timeout=120)
    assert outcome.returncode == 2
    assert "want one FpgaScore .nupkg in" in outcome.stderr and "scripts/build-artifacts.sh DIR" in outcome.stderr


def test_go_module_zip(tmp_path):
    """scripts/go_module_proxy.py: the module zip as the tag publishes it, in a proxy's layout."""
    done = subprocess.run([PYTHON, str(REPO / "scripts" / "go_module_proxy.py"), "--module-dir", str(REPO / "go"),
                           "--version", f"v{VERSION}", "--out", str(tmp_path / "go")],
                          capture_output=True, text=True, check=True)
    module = artifacts.go_module_path()
    folder = tmp_path / "go" / module / "@v"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["list", f"v{VERSION}.info", f"v{VERSION}.mod", f"v{VERSION}.zip"])
    assert json.loads((folder / f"v{VERSION}.info").read_text())["Version"] == f"v{VERSION}"
    assert (folder / f"v{VERSION}.mod").read_bytes() == (REPO / "go" / "go.mod").read_bytes()
    with zipfile.ZipFile(folder / f"v{VERSION}.zip") as z:
        names = z.namelist()
    prefix = f"{module}@v{VERSION}/"
    assert all(n.startswith(prefix) for n in names)
    assert {prefix + "go.mod", prefix + "LICENSE", prefix + "fpgascore/version.go"} <= set(names)
    assert not [n for n in names if "/bin/" in n or n.endswith((".exe", ".test"))]
    zip_hash = artifacts.go_zip_hash(folder / f"v{VERSION}.zip")
    assert f"{module} v{VERSION} {zip_hash}" in done.stdout.splitlines()
    found = artifacts.find(tmp_path, ["go"])["go"]   # tmp_path as an artifacts folder holding go/ only
    assert found.version == VERSION and found.digest == zip_hash and found.name == f"{module}@v{VERSION}"


def test_the_go_driver_may_import_only_the_public_api(tmp_path, monkeypatch):
    """The separate module gets the driver protocol's types beside the driver; any other
    internal package of the client module is refused before anything builds (another module
    cannot import it: the driver would not build for a user of the published module)."""
    driver = tmp_path / "driver"
    driver.mkdir()
    module = artifacts.go_module_path()
    (driver / "main.go").write_text(f'package main\n\nimport (\n\tcpb "{module}/internal/conformancepb"\n'
                                    f'\t"{module}/internal/retrytables"\n)\n')
    monkeypatch.setattr(artifacts, "GO_DRIVER", driver)
    artifact = artifacts.Artifact("go", tmp_path / "v0.0.0.zip", "0.0.0", "h1:x", f"{module}@v0.0.0")
    with pytest.raises(artifacts.ArtifactError, match=re.escape(f"imports {module}/internal/retrytables: internal")):
        artifacts.build_go(artifact, tmp_path, tmp_path / "build")
