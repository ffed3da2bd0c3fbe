"""``python -m fpgascore score`` as a subprocess against the reference server."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import fpgascore
from conftest import IMAGES, PYTHON, SRC
from fake_server import scores_response

GOLDEN = json.loads((IMAGES.parent / "golden.json").read_text())

pytestmark = [pytest.mark.timeout(60), pytest.mark.emulator]


def run(*args: str, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), GRPC_VERBOSITY="NONE", **(env_extra or {}))
    return subprocess.run([PYTHON, "-m", "fpgascore", *args], env=env, capture_output=True, text=True, timeout=60)


def test_cli_version_is_the_repository_version():
    result = run("--version")
    version = (SRC.parents[1] / "VERSION").read_text().strip()
    assert (result.returncode, result.stdout, result.stderr) == (0, f"fpgascore {version}\n", "")
    assert fpgascore.__version__ == version


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
    result = run("score", "--host", "localhost", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.ca),
                 "--key-env", "MY_KEY", "--json", str(IMAGES / "checkerboard.png"), env_extra={"MY_KEY": keys["primary"]})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    top = document["results"][0]["top_k"]
    assert len(top) == 5 and set(top[0]) == {"class_id", "label", "score"}
    assert top[0]["label"] == fpgascore.labels()[top[0]["class_id"]]
    assert keys["primary"] not in result.stdout + result.stderr


def test_cli_errors(tls_server, pki, keys, plain_server):
    result = run("score", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.ca), "--key-env", "MY_KEY",
                 "--json", str(IMAGES / "gradient.jpg"), env_extra={"MY_KEY": "wrong-" + keys["primary"]})
    assert result.returncode == 1 and "UNAUTHENTICATED" in result.stderr
    assert json.loads(result.stdout)["results"][0]["error"]["code"] == "UNAUTHENTICATED"
    assert keys["primary"] not in result.stderr
    result = run("score", "--port", str(plain_server.port), "--key-env", "MY_KEY", str(IMAGES / "gradient.jpg"),
                 env_extra={"MY_KEY": "k"})  # a key without TLS: a usage error naming the flags
    assert result.returncode == 2 and "--allow-insecure-key" in result.stderr and "--ssl" in result.stderr
    result = run("score", "--port", str(plain_server.port), "--json", str(IMAGES / "missing.jpg"))
    assert result.returncode == 1 and "no such file" in result.stderr
    assert json.loads(result.stdout)["results"][0]["error"]["code"] == "INVALID_ARGUMENT"
    result = run("score", "--port", str(plain_server.port), "--key-env", "UNSET_VARIABLE_X", "a.jpg")
    assert result.returncode == 2 and "UNSET_VARIABLE_X" in result.stderr
    result = run("score", "--port", str(plain_server.port), str(IMAGES / "corrupt.jpg"))
    assert result.returncode == 1 and "INVALID_ARGUMENT" in result.stderr and "request-id" in result.stderr
    result = run("score", "--port", str(tls_server.port), "--ssl", "--ca", str(pki.untrusted_ca),
                 str(IMAGES / "gradient.jpg"))
    assert result.returncode == 1 and "certificate was not trusted" in result.stderr


def test_cli_in_process(plain_server, capsys):
    from fpgascore.cli import main
    assert main(["score", "--port", str(plain_server.port), "--top", "2", str(IMAGES / "gradient.jpg")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    # Flags after the image paths; --top-k as --top; --timeout in seconds, a decimal.
    image = str(IMAGES / "gradient.jpg")
    assert main(["score", image, "--top-k", "1", image, "--port", str(plain_server.port), "--timeout", "2.5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    for timeout in ("0", "-1", "nan", "10s"):
        with pytest.raises(SystemExit) as exited:
            main(["score", "--port", str(plain_server.port), "--timeout", timeout, image])
        assert exited.value.code == 2


# -- batches ------------------------------------------------------------------------------

def many_images(directory, count, corrupt_at=None):
    """``count`` copies of the test images, in turn, named so that their order shows."""
    names = sorted(GOLDEN)
    paths = []
    for index in range(count):
        name = "corrupt.jpg" if index == corrupt_at else names[index % len(names)]
        path = directory / f"{index:03d}-{name}"
        shutil.copyfile(IMAGES / name, path)
        paths.append(str(path))
    return paths


def golden_top1(path):
    return GOLDEN[os.path.basename(path).split("-", 1)[1]]["top5"][0][0]


def test_cli_scores_forty_images_in_batches_in_the_given_order(plain_server, tmp_path):
    images = many_images(tmp_path, 40)
    result = run("score", "--port", str(plain_server.port), "--json", *images)  # default: 8 per call
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)["results"]
    assert [r["image"] for r in results] == images
    assert [r["top_k"][0]["class_id"] for r in results] == [golden_top1(i) for i in images]
    result = run("score", "--port", str(plain_server.port), "--batch-size", "7", "--top", "1", *images)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0::2] == images and len(lines) == 80  # 5 calls of 7 and one of 5: nothing lost
    assert [int(line.split()[2]) for line in lines[1::2]] == [golden_top1(i) for i in images]


def test_cli_a_batch_the_server_refuses_as_too_large_says_lower_batch_size(plain_server, tmp_path):
    images = many_images(tmp_path, 40)
    result = run("score", "--port", str(plain_server.port), "--batch-size", "40", "--json", *images)
    assert result.returncode == 1 and result.stdout.count("\n") > 1
    assert "at most 32 per request" in result.stderr  # the server's message, with its limit
    assert "the server refused 40 images in one call: lower --batch-size (it is 40)" in result.stderr
    document = json.loads(result.stdout)
    assert document["results"][0]["error"]["request_id"]
    assert [r["image"] for r in document["results"]] == images and document["not_scored"] == []
    assert {r["error"]["code"] for r in document["results"]} == {"INVALID_ARGUMENT"}


def test_cli_a_failed_batch_ends_the_run_and_says_what_was_not_scored(plain_server, tmp_path):
    images = many_images(tmp_path, 20, corrupt_at=12)
    result = run("score", "--port", str(plain_server.port), "--batch-size", "5", "--top", "1", *images)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0::2] == images[:10]  # the two calls before the corrupt image's
    assert "INVALID_ARGUMENT" in result.stderr and "request-id" in result.stderr
    assert f"10 of 20 images scored; not scored: {images[10]} and the 9 after it" in result.stderr
    assert "lower --batch-size" not in result.stderr
    result = run("score", "--port", str(plain_server.port), "--batch-size", "5", "--json", *images)
    document = json.loads(result.stdout)
    assert [r["image"] for r in document["results"]] == images[:15] and document["not_scored"] == images[15:]
    assert all("top_k" in r and r["request_id"] for r in document["results"][:10])
    assert {r["error"]["code"] for r in document["results"][10:]} == {"INVALID_ARGUMENT"}


def test_cli_batch_size_must_be_positive(plain_server):
    result = run("score", "--port", str(plain_server.port), "--batch-size", "0", str(IMAGES / "gradient.jpg"))
    assert result.returncode == 2 and "--batch-size" in result.stderr


def test_cli_a_non_finite_answer_exits_1(fake, capsys):
    from fpgascore.cli import main

    def nan_scores(request, context):
        response, _ = scores_response(len(request.inputs["images"].string_val))
        tensor = response.outputs["output_alias"]
        values = np.frombuffer(tensor.tensor_content, "<f4").copy()
        values[1003] = np.nan
        tensor.tensor_content = values.tobytes()
        return response

    fake.service.handler = nan_scores
    image = str(IMAGES / "gradient.jpg")
    assert main(["score", "--port", str(fake.port), image, image, image]) == 1
    captured = capsys.readouterr()
    assert "INTERNAL" in captured.err and "(NaN) at image 1, class 3" in captured.err
    assert "lower --batch-size" not in captured.err and captured.out == ""


@pytest.mark.parametrize("argv, message", [
    (["service", "create", "--name", "x", "--cert", "{cert}", "--key", "{cert}"], "--cert and --key need --ssl"),
    (["service", "create", "--name", "x", "--ssl", "--cert", "{missing}", "--key", "{cert}"],
     "--cert: No such file or directory: {missing}"),
    (["service", "update", "x", "--key", "{missing}"], "--key: No such file or directory: {missing}"),
    (["service", "update", "x", "--ssl", "--no-ssl"], "not allowed with argument --ssl"),
    (["service", "update", "x", "--replicas", "0"], "--replicas must be at least 1"),
    (["service", "create", "--name", "x", "--replicas", "-1"], "--replicas must be at least 1"),
    (["service", "export", "--kubernetes", "x", "--replicas", "0"], "--replicas must be at least 1"),
])
def test_service_flags_the_go_and_csharp_commands_refuse_are_usage_errors(
        argv, message, tmp_path, capsys, monkeypatch):
    """Refused before any call, with exit 2, as the Go and C# commands refuse them (CLIENT_SPEC.md,
    "The service and model commands"): no manager listens at the address, and a token is set."""
    from fpgascore.cli import main
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    paths = {"cert": str(cert), "missing": str(tmp_path / "missing.pem")}
    monkeypatch.setenv("FPGASCORE_ADMIN_TOKEN", "token-for-the-test")
    with pytest.raises(SystemExit) as exited:
        main([*(arg.format(**paths) for arg in argv), "--manager", "127.0.0.1:9", "--timeout", "1"])
    assert exited.value.code == 2
    assert message.format(**paths) in capsys.readouterr().err
