"""What every method gets from the server's interceptors, the same way: a request id in its
trailing metadata on success and on error, one log line carrying it, the key rule on the keyed
methods (not on health), and, in conformance mode, what the server saw echoed in the trailers.
Spoken to with raw generated stubs and generic calls, no client SDK."""
import hashlib
import json
import time

import grpc
import pytest

from fpgascore.v1 import (health_pb2, health_service_pb2_grpc, model_metadata_pb2, model_service_pb2_grpc,
                          model_status_pb2, prediction_service_pb2_grpc)
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

PRIMARY, SECONDARY = "primary-key-for-the-echo", "secondary-key-for-the-echo"


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _records(server) -> list:
    return [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]


def _methods(channel):
    """(event, a good call, a call that fails) for every unary method the server serves."""
    predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    health = health_service_pb2_grpc.HealthStub(channel)
    return [
        ("predict", lambda md: predictions.Predict.with_call(rpc.image_request([rpc.image("gradient.jpg")]), metadata=md, timeout=30),
         lambda md: predictions.Predict.with_call(rpc.image_request([b""]), metadata=md, timeout=30)),
        ("get_model_metadata",
         lambda md: predictions.GetModelMetadata.with_call(model_metadata_pb2.GetModelMetadataRequest(
             metadata_field=["signature_def"]), metadata=md, timeout=30),
         lambda md: predictions.GetModelMetadata.with_call(model_metadata_pb2.GetModelMetadataRequest(), metadata=md,
                                                           timeout=30)),
        ("get_model_status",
         lambda md: models.GetModelStatus.with_call(model_status_pb2.GetModelStatusRequest(), metadata=md, timeout=30),
         lambda md: models.GetModelStatus.with_call(model_status_pb2.GetModelStatusRequest(
             model_spec={"name": "not-served"}), metadata=md, timeout=30)),
        ("health_check",
         lambda md: health.Check.with_call(health_pb2.HealthCheckRequest(), metadata=md, timeout=30),
         lambda md: health.Check.with_call(health_pb2.HealthCheckRequest(service="not.a.Service"), metadata=md,
                                           timeout=30)),
    ]


@pytest.fixture(scope="module")
def keyed_server():
    with EmulatorProcess(ServerConfig(require_auth=True, primary_key=PRIMARY, secondary_key=SECONDARY,
                                      conformance=True)) as server:
        yield server


def test_every_method_answers_with_a_request_id_that_its_log_line_carries(keyed_server):
    channel = grpc.insecure_channel(keyed_server.target)
    keyed = [("authorization", PRIMARY)]
    seen = {}
    for event, good, bad in _methods(channel):
        _, call = good(keyed)
        ok_id = dict(call.trailing_metadata()).get("request-id")
        with pytest.raises(grpc.RpcError) as failed:
            bad(keyed)
        error_id = rpc.trailing(failed.value).get("request-id")
        assert ok_id and error_id and ok_id != error_id, (event, ok_id, error_id)
        seen[event] = (ok_id, error_id, failed.value.code())
    by_id = {r.get("request_id"): r for r in _records(keyed_server)}
    for event, (ok_id, error_id, code) in seen.items():
        assert by_id[ok_id]["event"] == event and by_id[ok_id]["code"] == "OK", event
        assert by_id[error_id]["event"] == event and by_id[error_id]["code"] == code.name, event


def test_the_key_rule_covers_every_keyed_method_and_not_health(keyed_server):
    channel = grpc.insecure_channel(keyed_server.target)
    for event, good, _ in _methods(channel):
        if event == "health_check":
            good([])  # load balancers and container engines probe without a key
            continue
        with pytest.raises(grpc.RpcError) as refused:
            good([("authorization", "not-a-key")])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, event
        assert rpc.trailing(refused.value).get("request-id"), event


def test_in_conformance_mode_the_trailers_say_what_the_server_saw(keyed_server):
    caller = rpc.plaintext(keyed_server.target)
    request = rpc.image_request([rpc.image("gradient.jpg")])
    case = [("x-conformance-case", "echo-1"), ("x-conformance-fail", "2:UNAVAILABLE")]
    first = caller.error(request, case + [("authorization", PRIMARY)])  # injected failure
    second = caller.error(request, case)  # keyless: refused at its headers, still counted
    _, third = caller.predict(request, case + [("authorization", SECONDARY)])
    assert first.code() == grpc.StatusCode.UNAVAILABLE and second.code() == grpc.StatusCode.UNAUTHENTICATED
    echoes = [rpc.trailing(first), rpc.trailing(second), third]
    assert [e["x-conformance-attempt"] for e in echoes] == ["1", "2", "3"]
    assert echoes[2]["x-conformance-authorization"] == f"{_fingerprint(PRIMARY)},-,{_fingerprint(SECONDARY)}"
    assert echoes[0]["x-conformance-authorization"] == _fingerprint(PRIMARY)
    assert [e["x-conformance-applied"] for e in echoes] == ["fail=UNAVAILABLE", "fail=UNAVAILABLE", "none"]
    _, delayed = caller.predict(request, [("x-conformance-case", "echo-2"), ("x-conformance-delay-ms", "5"),
                                          ("x-conformance-encoding", "float_val"), ("authorization", PRIMARY)])
    assert delayed["x-conformance-applied"] == "delay-ms=5,encoding=float_val"


def test_a_call_without_a_case_id_and_a_server_without_conformance_echo_nothing(keyed_server):
    _, trailers = rpc.plaintext(keyed_server.target).predict(
        rpc.image_request([rpc.image("gradient.jpg")]), [("authorization", PRIMARY)])
    assert not any(key.startswith("x-conformance-") for key in trailers)
    with EmulatorProcess(ServerConfig(conformance=False)) as server:
        _, trailers = rpc.plaintext(server.target).predict(
            rpc.image_request([rpc.image("gradient.jpg")]), [("x-conformance-case", "echo-3")])
    assert trailers.get("request-id") and not any(key.startswith("x-conformance-") for key in trailers)


def test_named_request_headers_come_back_unchanged_and_bounded(keyed_server):
    caller = rpc.plaintext(keyed_server.target)
    request = rpc.image_request([rpc.image("gradient.jpg")])
    value = "Tag with spaces; and=signs, commas"
    _, trailers = caller.predict(request, [("authorization", PRIMARY), ("x-app-tag", value), ("x-long", "v" * 300),
                                           ("x-conformance-echo-metadata", "x-app-tag, x-long,x-absent")])
    assert trailers["x-conformance-metadata-x-app-tag"] == value
    assert trailers["x-conformance-metadata-x-long"] == "v" * 256 and "x-conformance-metadata-x-absent" not in trailers
    for keys in ("authorization", "x-a-bin", ",".join(f"x-{n}" for n in range(9))):
        refused = caller.error(request, [("authorization", PRIMARY), ("x-conformance-echo-metadata", keys)])
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, keys


def test_an_injected_delay_ends_when_the_caller_cancels(keyed_server):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(keyed_server.target))
    future = stub.Predict.future(rpc.image_request([rpc.image("gradient.jpg")]), timeout=30, metadata=[
        ("authorization", PRIMARY), ("x-conformance-case", "cancel-1"), ("x-conformance-delay-ms", "20000")])
    time.sleep(1.0)  # the call is in its delay by now
    future.cancel()
    for _ in range(100):  # the server ends the call (and logs it) long before the 20 s delay
        ended = [r for r in _records(keyed_server) if r.get("case") == "cancel-1" and r.get("event") == "predict"]
        if ended:
            break
        time.sleep(0.1)
    assert ended and ended[0]["code"] == "CANCELLED", ended


def test_a_case_id_is_bounded(keyed_server):
    caller = rpc.plaintext(keyed_server.target)
    refused = caller.error(rpc.image_request([rpc.image("gradient.jpg")]),
                           [("authorization", PRIMARY), ("x-conformance-case", "c" * 257)])
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 256" in refused.details()
    assert "c" * 257 not in keyed_server.logs()
