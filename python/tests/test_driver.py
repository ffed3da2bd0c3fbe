"""The conformance driver (conformance/drivers/python/driver.py) against the reference server."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import IMAGES
from servers import PYTHON, REPO

pytestmark = [pytest.mark.timeout(90), pytest.mark.emulator]

DRIVER = REPO / "conformance" / "drivers" / "python" / "driver.py"


def drive(lines, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    env.pop("PYTHONPATH", None)  # the driver finds python/src itself
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    result = subprocess.run([PYTHON, str(DRIVER)], input=text, env=env, capture_output=True, text=True, timeout=80)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def base(server, **fields):
    request = {"id": "t", "host": server.host, "port": server.port, "use_ssl": False, "root_certificates_file": None,
               "server_name_override": None, "access_token": None, "secondary_access_token": None,
               "auth_scheme": "raw", "allow_insecure_key": False, "timeout_ms": 10000,
               "retry": {"max_attempts": 4, "initial_backoff_ms": 20, "max_backoff_ms": 100, "multiplier": 2.0},
               "metadata": {}, "action": "images", "images": [str(IMAGES / "gradient.jpg")], "tensor_file": None,
               "tensor_shape": None, "calls": 1, "concurrency": 1, "top_k": 5}
    request.update(fields)
    return request


def test_driver_protocol(plain_server, tls_server, pki, keys, tmp_path, case_id):
    tensor = tmp_path / "t.f32"
    np.random.default_rng(1).random((1, 224, 224, 3), dtype=np.float32).astype("<f4").tofile(tensor)
    requests = [
        base(plain_server, id="images", images=[str(IMAGES / "gradient.jpg"), str(IMAGES / "rings.jpg")]),
        "this is not json",
        base(tls_server, id="tls", use_ssl=True, root_certificates_file=str(pki.ca_cert),
             access_token="bad", secondary_access_token=keys["secondary"]),
        base(plain_server, id="retry", metadata={"x-conformance-case": case_id, "x-conformance-fail": "2:UNAVAILABLE"}),
        base(plain_server, id="insecure", access_token="k", action="none"),
        base(plain_server, id="none", action="none"),
        base(plain_server, id="tensor", action="tensor", images=None, tensor_file=str(tensor),
             tensor_shape=[1, 224, 224, 3]),
        base(plain_server, id="tensor-bad-shape", action="tensor", tensor_file=str(tensor), tensor_shape=[2, 3]),
        base(plain_server, id="multi", calls=3, concurrency=2, metadata={"x-conformance-case": case_id + "/m"}),
        base(plain_server, id="empty", images=[]),
        {"id": "bad-action", "host": "h", "port": 1, "action": "dance"},
        base(plain_server, id="corrupt", images=[str(IMAGES / "corrupt.jpg")]),
    ]
    responses = drive(requests)
    by_id = {r["id"]: r for r in responses if r["id"]}
    assert len(responses) == len(requests)
    assert responses[1] == {"id": None, "results": [], "error": responses[1]["error"]} and responses[1]["error"]
    ok = by_id["images"]["results"][0]
    assert ok["code"] == "OK" and ok["shape"] == [2, 1000] and len(ok["top_k"]) == 2 and ok["request_id"]
    assert len(ok["top_k"][0]) == 5 and isinstance(ok["top_k"][0][0][0], int)
    assert by_id["tls"]["results"][0]["code"] == "OK"
    assert by_id["retry"]["results"][0]["code"] == "OK" and len(plain_server.attempts(case_id)) == 3
    assert by_id["insecure"]["results"][0]["code"] == "FAILED_PRECONDITION"
    assert by_id["none"]["results"][0]["code"] == "OK"
    assert by_id["tensor"]["results"][0]["shape"] == [1, 1000]
    assert by_id["tensor-bad-shape"]["results"][0]["code"] == "INVALID_ARGUMENT"
    assert [r["code"] for r in by_id["multi"]["results"]] == ["OK"] * 3
    assert all(len(plain_server.attempts(f"{case_id}/m#{i}")) == 1 for i in (1, 2, 3))
    assert by_id["empty"]["results"][0]["code"] == "INVALID_ARGUMENT"
    assert by_id["bad-action"]["error"] and by_id["bad-action"]["results"] == []
    corrupt = by_id["corrupt"]["results"][0]
    assert corrupt["code"] == "INVALID_ARGUMENT" and corrupt["request_id"]
    assert all(r["error"] is None for r in responses if r["id"] not in (None, "bad-action"))


def test_driver_system_roots_from_env(tls_server, pki, keys):
    request = base(tls_server, id="env", use_ssl=True, access_token=keys["primary"])
    trusted, = drive([request], env_extra={"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.ca_cert)})
    assert trusted["results"][0]["code"] == "OK"
    untrusted, = drive([request], env_extra={"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.other_ca_cert)})
    result = untrusted["results"][0]
    assert result["code"] == "UNAVAILABLE" and "certificate was not trusted" in result["message"]


def test_driver_uses_only_the_public_api():
    source = DRIVER.read_text()
    assert "fpgascore.v1" not in source and "fpgascore._" not in source and "import grpc" not in source


def test_driver_request_action_and_sessions(plain_server, tmp_path, case_id):
    import fpgascore
    good = fpgascore.predict_request({"images": fpgascore.image_tensor([IMAGES / "gradient.jpg"])})
    (tmp_path / "good.bin").write_bytes(good.SerializeToString())
    bad = fpgascore.PredictRequest()
    bad.inputs["pixels"].CopyFrom(fpgascore.image_tensor([IMAGES / "gradient.jpg"]))
    (tmp_path / "bad.bin").write_bytes(bad.SerializeToString())
    responses = drive([
        base(plain_server, id="req", action="request", request_file=str(tmp_path / "good.bin")),
        base(plain_server, id="req-bad", action="request", request_file=str(tmp_path / "bad.bin"),
             metadata={"x-conformance-case": case_id + "/bad"}),
        base(plain_server, id="s1", session="S", metadata={"x-conformance-case": case_id + "/s1"}),
        base(plain_server, id="s2", session="S", port=1,  # later lines reuse the session's client
             metadata={"x-conformance-case": case_id + "/s2", "x-conformance-fail": "1:UNAVAILABLE"}),
    ])
    by_id = {r["id"]: r for r in responses}
    assert by_id["req"]["results"][0]["code"] == "OK" and by_id["req"]["results"][0]["shape"] == [1, 1000]
    bad_result = by_id["req-bad"]["results"][0]
    assert bad_result["code"] == "INVALID_ARGUMENT" and "pixels" in bad_result["message"]
    assert by_id["s1"]["results"][0]["code"] == "OK" and by_id["s2"]["results"][0]["code"] == "OK"
    assert len(plain_server.attempts(case_id + "/s1")) == 1 and len(plain_server.attempts(case_id + "/s2")) == 2
