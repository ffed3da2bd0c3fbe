"""The examples in python/examples run against the reference server, on the installed package:
python/ is installed (`pip install --no-deps --no-build-isolation`, from a copy) into a fresh
virtual environment (`--system-site-packages`, for Debian's grpcio, protobuf and numpy), and the
examples run on its Python without PYTHONPATH, so an example that reached into python/src fails."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import IMAGES, PYTHON, REPO

pytestmark = [pytest.mark.timeout(300), pytest.mark.emulator]

EXAMPLES = REPO / "python" / "examples"


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    base = tmp_path_factory.mktemp("examples-venv")
    source = base / "python"
    skip = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "tests")
    shutil.copytree(REPO / "python", source, ignore=skip)
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", str(base / "venv")], check=True)
    python = str(base / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    str(source)], check=True, capture_output=True, cwd=base, env=clean_env())
    where = subprocess.run([python, "-c", "import fpgascore; print(fpgascore.__file__)"], cwd=base,
                           env=clean_env(), capture_output=True, text=True, check=True).stdout
    assert str(base / "venv") in where and str(REPO) not in where, where
    return python


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FPGASCORE_KEY")}
    return {**env, **extra}


def test_examples_do_not_reach_into_the_tree():
    for example in EXAMPLES.glob("*.py"):
        text = example.read_text()
        assert "sys.path" not in text and "PYTHONPATH" not in text, example


@pytest.mark.parametrize("script,args", [
    ("score_image.py", ["gradient.jpg"]),
    ("score_batch.py", ["gradient.jpg", "rings.jpg"]),
    ("score_async.py", ["gradient.jpg", "checkerboard.png"]),
    ("score_numpy.py", ["rings.jpg"]),
])
def test_example_runs(plain_server, venv_python, script, args):
    env = clean_env()
    result = subprocess.run([venv_python, str(EXAMPLES / script), "--host", plain_server.host, "--port",
                             str(plain_server.port), *[str(IMAGES / a) for a in args]],
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_example_over_tls(tls_server, pki, keys, venv_python):
    env = clean_env(FPGASCORE_KEY=keys["primary"])
    result = subprocess.run([venv_python, str(EXAMPLES / "score_image.py"), "--host", "localhost", "--port",
                             str(tls_server.port), "--ssl", "--ca", str(pki.ca), str(IMAGES / "gradient.jpg")],
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
