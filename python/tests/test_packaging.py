"""The wheel builds (python3 -m build --no-isolation --wheel) and works on its own."""
from __future__ import annotations

import os
import shutil
import subprocess
import zipfile

import pytest

from conftest import PYTHON, REPO

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    leftovers = [REPO / "python" / "build", REPO / "python" / "src" / "fpgascore.egg-info"]
    existed = [path.exists() for path in leftovers]
    result = subprocess.run([PYTHON, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out),
                             str(REPO / "python")], capture_output=True, text=True, timeout=170)
    for path, was_there in zip(leftovers, existed):  # leave the tree as it was
        if not was_there:
            shutil.rmtree(path, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("fpgascore-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("fpgascore/__init__.py", "fpgascore/py.typed", "fpgascore/imagenet_classes.txt",
                     "fpgascore/client.py", "fpgascore/aio.py", "fpgascore/__main__.py",
                     "fpgascore/v1/predict_pb2.py", "fpgascore/v1/tensor_pb2.py",
                     "fpgascore/v1/prediction_service_pb2_grpc.py", "fpgascore/v1/predict_pb2.pyi"):
        assert required in names, required
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    requires = {line.split(":", 1)[1].replace(" ", "").replace("(", "").replace(")", "")
                for line in text.splitlines() if line.startswith("Requires-Dist:") and "extra" not in line}
    assert requires in ({"grpcio>=1.51", "numpy>=1.24", "protobuf<5,>=4.21"},
                        {"grpcio>=1.51", "numpy>=1.24", "protobuf>=4.21,<5"}), requires
    assert "Requires-Python: >=3.9" in text
    assert not any("tests/" in n or n.startswith("examples/") for n in names)


def test_installed_wheel_works_alone(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site))
    code = ("import fpgascore, numpy as np; assert fpgascore.__file__.startswith(%r); "
            "print(len(fpgascore.labels()), fpgascore.top_k(np.eye(1000)[7], 1)[0].label)" % str(site))
    result = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000", "cock"]
