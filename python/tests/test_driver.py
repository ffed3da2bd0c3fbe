"""The conformance driver (conformance/drivers/python/driver.py) against the reference server,
speaking the driver protocol (proto/fpgascore/conformance/v1/driver.proto)."""
from __future__ import annotations

import json
import os
import re
import subprocess

import numpy as np
import pytest
from google.protobuf import json_format

from conftest import IMAGES, PYTHON, REPO
from fpgascore_conformance.v1 import driver_pb2 as pb

pytestmark = [pytest.mark.timeout(90), pytest.mark.emulator]

DRIVER = REPO / "conformance" / "drivers" / "python" / "driver.py"
HELLO = '{"protocolVersion": "1.1", "runner": "test"}'


def run_driver(text, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    env.pop("PYTHONPATH", None)  # the driver finds python/src and the protocol itself
    return subprocess.run([PYTHON, str(DRIVER)], input=text, env=env, capture_output=True, text=True, timeout=80)


def drive(lines, env_extra=None):
    """The DriverAnswers to the lines (messages, dicts as JSON, or text) after a Hello."""
    def text(line):
        if isinstance(line, str):
            return line
        return json.dumps(line) if isinstance(line, dict) else json_format.MessageToJson(line, indent=None)

    result = run_driver(HELLO + "\n" + "".join(text(line) + "\n" for line in lines), env_extra)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    hello = json_format.Parse(out[0], pb.HelloAnswer())
    assert hello.protocol_version == "1.1" and hello.language == "python" and hello.client == "fpgascore"
    for line in out[1:]:
        assert '"request_id"' not in line and '"top_k"' not in line, f"not lowerCamelCase: {line}"
    return [json_format.Parse(line, pb.DriverAnswer()) for line in out[1:]]


def base(server, **fields):
    request = pb.DriverRequest(
        id="t", host=server.host, port=server.port, timeout_ms=10000,
        retry=pb.RetryPolicy(max_attempts=4, initial_backoff_ms=20, max_backoff_ms=100, multiplier=2.0),
        action=pb.ACTION_IMAGES, images=[str(IMAGES / "gradient.jpg")], calls=1, concurrency=1, top_k=5)
    for name, value in fields.items():
        if isinstance(value, list):
            request.ClearField(name)
            getattr(request, name).extend(value)
        elif isinstance(value, dict):
            getattr(request, name).update(value)
        else:
            setattr(request, name, value)
    return request


def codes(answer):
    return [pb.Code.Name(r.code) for r in answer.results]


def test_driver_hello_first():
    result = run_driver('{"id": "x", "host": "h", "port": 1}\n')
    assert result.returncode == 2 and result.stdout == "" and "not a Hello" in result.stderr


def test_driver_protocol(plain_server, tls_server, pki, keys, tmp_path, case_id):
    tensor = tmp_path / "t.f32"
    np.random.default_rng(1).random((1, 224, 224, 3), dtype=np.float32).astype("<f4").tofile(tensor)
    requests = [
        base(plain_server, id="images", images=[str(IMAGES / "gradient.jpg"), str(IMAGES / "rings.jpg")]),
        "this is not json",
        base(tls_server, id="tls", use_ssl=True, root_certificates_file=str(pki.ca),
             access_token="bad", secondary_access_token=keys["secondary"]),
        base(plain_server, id="retry", metadata={"x-conformance-case": case_id, "x-conformance-fail": "2:UNAVAILABLE"}),
        base(plain_server, id="insecure", access_token="k", action=pb.ACTION_NONE),
        base(plain_server, id="none", action=pb.ACTION_NONE),
        base(plain_server, id="tensor", action=pb.ACTION_TENSOR, images=[], tensor_file=str(tensor),
             tensor_shape=[1, 224, 224, 3]),
        base(plain_server, id="tensor-bad-shape", action=pb.ACTION_TENSOR, tensor_file=str(tensor), tensor_shape=[2, 3]),
        base(plain_server, id="multi", calls=3, concurrency=2, metadata={"x-conformance-case": case_id + "/m"}),
        base(plain_server, id="empty", images=[]),
        {"id": "bad-action", "host": "h", "port": 1, "action": "ACTION_DANCE"},
        {"id": "unspecified", "host": "h", "port": 1},
        # proto field names, a number for an enum, a field this version does not know
        {"id": "proto-names", "host": plain_server.host, "port": plain_server.port, "action": 1,
         "images": [str(IMAGES / "rings.jpg")], "top_k": 2, "field_from_the_future": [1]},
        base(plain_server, id="corrupt", images=[str(IMAGES / "corrupt.jpg")]),
    ]
    responses = drive(requests)
    by_id = {r.id: r for r in responses if r.id}
    assert len(responses) == len(requests)
    assert responses[1].id == "" and responses[1].error and not responses[1].results
    ok = by_id["images"].results[0]
    assert ok.code == pb.OK and list(ok.shape) == [2, 1000] and len(ok.top_k) == 2 and ok.request_id
    assert len(ok.top_k[0].predictions) == 5
    assert codes(by_id["tls"]) == ["OK"]
    assert codes(by_id["retry"]) == ["OK"] and len(plain_server.attempts(case_id)) == 3
    assert codes(by_id["insecure"]) == ["FAILED_PRECONDITION"]
    assert codes(by_id["none"]) == ["OK"]
    assert list(by_id["tensor"].results[0].shape) == [1, 1000]
    assert codes(by_id["tensor-bad-shape"]) == ["INVALID_ARGUMENT"]
    assert codes(by_id["multi"]) == ["OK"] * 3
    assert all(len(plain_server.attempts(f"{case_id}/m#{i}")) == 1 for i in (1, 2, 3))
    assert codes(by_id["empty"]) == ["INVALID_ARGUMENT"]
    for bad in ("bad-action", "unspecified"):  # an unknown enum name, no action: errors naming the id
        assert by_id[bad].error and not by_id[bad].results
    named = by_id["proto-names"].results[0]
    assert named.code == pb.OK and len(named.top_k[0].predictions) == 2
    corrupt = by_id["corrupt"].results[0]
    assert corrupt.code == pb.INVALID_ARGUMENT and corrupt.request_id
    assert all(not r.error for r in responses if r.id not in ("", "bad-action", "unspecified"))


def test_driver_system_roots_from_env(tls_server, pki, keys):
    request = base(tls_server, id="env", use_ssl=True, access_token=keys["primary"])
    trusted, = drive([request], env_extra={"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.ca)})
    assert codes(trusted) == ["OK"]
    untrusted, = drive([request], env_extra={"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.untrusted_ca)})
    result = untrusted.results[0]
    assert result.code == pb.UNAVAILABLE and "certificate was not trusted" in result.message


def test_driver_uses_only_the_public_api():
    source = DRIVER.read_text()
    assert "fpgascore.v1" not in source and not re.search(r"fpgascore\._(?!_)", source)  # dunders (__file__) are public
    assert "import grpc" not in source


def test_driver_request_action_and_sessions(plain_server, tmp_path, case_id):
    import fpgascore
    good = fpgascore.predict_request({"images": fpgascore.image_tensor([IMAGES / "gradient.jpg"])})
    (tmp_path / "good.bin").write_bytes(good.SerializeToString())
    bad = fpgascore.PredictRequest()
    bad.inputs["pixels"].CopyFrom(fpgascore.image_tensor([IMAGES / "gradient.jpg"]))
    (tmp_path / "bad.bin").write_bytes(bad.SerializeToString())
    responses = drive([
        base(plain_server, id="req", action=pb.ACTION_REQUEST, request_file=str(tmp_path / "good.bin")),
        base(plain_server, id="req-bad", action=pb.ACTION_REQUEST, request_file=str(tmp_path / "bad.bin"),
             metadata={"x-conformance-case": case_id + "/bad"}),
        base(plain_server, id="s1", session="S", metadata={"x-conformance-case": case_id + "/s1"}),
        base(plain_server, id="s2", session="S", port=1,  # later lines reuse the session's client
             metadata={"x-conformance-case": case_id + "/s2", "x-conformance-fail": "1:UNAVAILABLE"}),
    ])
    by_id = {r.id: r for r in responses}
    assert codes(by_id["req"]) == ["OK"] and list(by_id["req"].results[0].shape) == [1, 1000]
    bad_result = by_id["req-bad"].results[0]
    assert bad_result.code == pb.INVALID_ARGUMENT and "pixels" in bad_result.message
    assert codes(by_id["s1"]) == ["OK"] and codes(by_id["s2"]) == ["OK"]
    assert len(plain_server.attempts(case_id + "/s1")) == 1 and len(plain_server.attempts(case_id + "/s2")) == 2


def test_driver_reports_model_metadata(plain_server):
    answer, = drive([base(plain_server, id="m", action=pb.ACTION_METADATA, images=[])])
    result = answer.results[0]
    assert result.code == pb.OK and result.metadata.model_name == "resnet50" and result.metadata.version == 1
    assert [(s.name, s.dtype, list(s.shape)) for s in result.metadata.inputs] == [("images", "DT_STRING", [-1])]
