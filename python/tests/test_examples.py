"""The examples in python/examples run against the reference server."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import IMAGES, PYTHON, REPO

pytestmark = [pytest.mark.timeout(120), pytest.mark.emulator]

EXAMPLES = REPO / "python" / "examples"


@pytest.mark.parametrize("script,args", [
    ("score_image.py", ["gradient.jpg"]),
    ("score_batch.py", ["gradient.jpg", "rings.jpg"]),
    ("score_async.py", ["gradient.jpg", "checkerboard.png"]),
    ("score_numpy.py", ["rings.jpg"]),
])
def test_example_runs(plain_server, script, args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FPGASCORE_KEY")}
    result = subprocess.run([PYTHON, str(EXAMPLES / script), "--host", plain_server.host, "--port",
                             str(plain_server.port), *[str(IMAGES / a) for a in args]],
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_example_over_tls(tls_server, pki, keys):
    env = dict(os.environ, FPGASCORE_KEY=keys["primary"])
    env.pop("PYTHONPATH", None)
    result = subprocess.run([PYTHON, str(EXAMPLES / "score_image.py"), "--host", "localhost", "--port",
                             str(tls_server.port), "--ssl", "--ca", str(pki.ca), str(IMAGES / "gradient.jpg")],
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
