"""``python -m fpgascore score`` as a subprocess against the reference server."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

import fpgascore
from conftest import IMAGES, SRC
from servers import PYTHON

pytestmark = [pytest.mark.timeout(60), pytest.mark.emulator]


def run(*args: str, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), GRPC_VERBOSITY="NONE", **(env_extra or {}))
    return subprocess.run([PYTHON, "-m", "fpgascore", *args], env=env, capture_output=True, text=True, timeout=60)


def test_cli_prints_top5_with_labels(plain_server):
    result = run("score", "--host", plain_server.host, "--port", str(plain_server.port),
                 str(IMAGES / "gradient.jpg"), str(IMAGES / "rings.jpg"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("gradient.jpg") and lines[6].endswith("rings.jpg") and len(lines) == 12
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        top = fpgascore.top_k(client.score_image(IMAGES / "gradient.jpg"))
    assert lines[1].strip().startswith("1.") and lines[1].endswith(top[0].label)


def test_cli_json_over_tls_with_key_from_env(tls_server, pki, keys):
    result = run("score", "--host", "localhost", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.ca_cert),
                 "--key-env", "MY_KEY", "--json", str(IMAGES / "checkerboard.png"), env_extra={"MY_KEY": keys["primary"]})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    top = document["results"][0]["top_k"]
    assert len(top) == 5 and set(top[0]) == {"class_id", "label", "score"}
    assert top[0]["label"] == fpgascore.labels()[top[0]["class_id"]]
    assert keys["primary"] not in result.stdout + result.stderr


def test_cli_errors(tls_server, pki, keys, plain_server):
    result = run("score", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.ca_cert), "--key-env", "MY_KEY",
                 "--json", str(IMAGES / "gradient.jpg"), env_extra={"MY_KEY": "wrong-" + keys["primary"]})
    assert result.returncode == 1 and "UNAUTHENTICATED" in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "UNAUTHENTICATED" and keys["primary"] not in result.stderr
    result = run("score", "--port", str(plain_server.port), "--key-env", "MY_KEY", str(IMAGES / "gradient.jpg"),
                 env_extra={"MY_KEY": "k"})
    assert result.returncode == 1 and "FAILED_PRECONDITION" in result.stderr
    result = run("score", "--port", str(plain_server.port), "--key-env", "UNSET_VARIABLE_X", "a.jpg")
    assert result.returncode == 2 and "UNSET_VARIABLE_X" in result.stderr
    result = run("score", "--port", str(plain_server.port), str(IMAGES / "corrupt.jpg"))
    assert result.returncode == 1 and "INVALID_ARGUMENT" in result.stderr and "request-id" in result.stderr
    result = run("score", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.other_ca_cert),
                 str(IMAGES / "gradient.jpg"))
    assert result.returncode == 1 and "certificate was not trusted" in result.stderr


def test_cli_in_process(plain_server, capsys):
    from fpgascore.cli import main
    assert main(["score", "--port", str(plain_server.port), "--top", "2", str(IMAGES / "gradient.jpg")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
