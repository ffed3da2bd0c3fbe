"""Client behaviour against a scripted in-process server: retries, pushback, deadlines,
key failover, output encodings, malformed responses, request ids, metadata."""
from __future__ import annotations

import asyncio
import logging
import time

import grpc
import numpy as np
import pytest

import fpgascore
from fpgascore.v1 import predict_pb2
from fake_server import failing, rows_of, scores_response

pytestmark = pytest.mark.timeout(30)

C = grpc.StatusCode
FAST = fpgascore.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


def client_for(fake, **options) -> fpgascore.PredictionClient:
    options.setdefault("retry_policy", FAST)
    return fpgascore.PredictionClient(fake.host, fake.port, **options)


def test_scores_decode_from_both_encodings(fake):
    expected = {}

    def handle(request, context):
        response, scores = scores_response(rows_of(request), float_val=len(fake.calls) % 2 == 0, seed=3)
        expected["scores"] = scores
        return response

    fake.service.handler = handle
    with client_for(fake) as client:
        for _ in range(2):
            scores = client.score_images([b"a", b"b", b"c"])
            assert scores.shape == (3, 1000) and scores.dtype == np.float32
            np.testing.assert_array_equal(scores, expected["scores"])


def test_request_shape_and_names(fake):
    with client_for(fake, model_name="resnet50-x") as client:
        client.score_image(b"\xff\xd8jpeg")
        request = fake.calls[-1].request
        assert request.model_spec.name == "resnet50-x" and request.model_spec.signature_name == "serving_default"
        tensor = request.inputs["images"]
        assert list(tensor.string_val) == [b"\xff\xd8jpeg"] and [d.size for d in tensor.tensor_shape.dim] == [1]
        scores = client.score_numpy_array(np.zeros((224, 224, 3), dtype=np.float32))
        assert scores.shape == (1000,)
        tensor = fake.calls[-1].request.inputs["images"]
        assert [d.size for d in tensor.tensor_shape.dim] == [1, 224, 224, 3]
        assert len(tensor.tensor_content) == 224 * 224 * 3 * 4 and not tensor.float_val
        assert client.score_numpy_array(np.ones((2, 224, 224, 3))).shape == (2, 1000)


def test_retries_transient_failures_then_succeeds(fake):
    fake.service.handler = failing(C.UNAVAILABLE, times=2)
    info = fpgascore.CallInfo()
    with client_for(fake) as client:
        assert client.score_image(b"x", call_info=info).shape == (1000,)
    assert len(fake.calls) == 3 and info.attempts == 3 and info.code == C.OK and info.request_id == "fake-3"


def test_aborted_is_retried(fake):
    fake.service.handler = failing(C.ABORTED, times=1)
    with client_for(fake) as client:
        client.score_image(b"x")
    assert len(fake.calls) == 2


def test_gives_up_after_max_attempts_with_the_last_error(fake):
    fake.service.handler = failing(C.UNAVAILABLE, "down for maintenance")
    with client_for(fake) as client:
        with pytest.raises(fpgascore.UnavailableError) as info:
            client.score_image(b"x")
    assert len(fake.calls) == 4
    assert info.value.details == "down for maintenance" and info.value.request_id == "fail-4"


def test_max_attempts_one_disables_retries(fake):
    fake.service.handler = failing(C.UNAVAILABLE)
    with client_for(fake, retry_policy=fpgascore.RetryPolicy.no_retries()) as client:
        with pytest.raises(fpgascore.UnavailableError):
            client.score_image(b"x")
    assert len(fake.calls) == 1


@pytest.mark.parametrize("code", [C.INVALID_ARGUMENT, C.UNAUTHENTICATED, C.PERMISSION_DENIED, C.INTERNAL,
                                  C.FAILED_PRECONDITION, C.DEADLINE_EXCEEDED, C.UNKNOWN])
def test_never_retried_codes(fake, code):
    fake.service.handler = failing(code, "nope")
    with client_for(fake) as client:
        with pytest.raises(fpgascore.ScoringError) as info:
            client.score_image(b"x")
    assert len(fake.calls) == 1 and info.value.code == code and info.value.request_id == "fail-1"


def test_resource_exhausted_without_pushback_is_not_retried(fake):
    fake.service.handler = failing(C.RESOURCE_EXHAUSTED, "message too large")
    with client_for(fake) as client:
        with pytest.raises(fpgascore.ResourceExhaustedError):
            client.score_image(b"x")
    assert len(fake.calls) == 1


def test_resource_exhausted_with_pushback_waits_the_pushback(fake):
    fake.service.handler = failing(C.RESOURCE_EXHAUSTED, "queue full", times=1,
                                   trailing=[("grpc-retry-pushback-ms", "300")])
    with client_for(fake) as client:
        client.score_image(b"x")
    assert len(fake.calls) == 2
    assert fake.calls[1].time - fake.calls[0].time >= 0.29


def test_backoff_grows_within_full_jitter_bounds(fake):
    fake.service.handler = failing(C.UNAVAILABLE, times=3)
    policy = fpgascore.RetryPolicy(max_attempts=4, initial_backoff=0.2, max_backoff=0.3, multiplier=2)
    with client_for(fake, retry_policy=policy) as client:
        client.score_image(b"x")
    gaps = [b.time - a.time for a, b in zip(fake.calls, fake.calls[1:])]
    for gap, bound in zip(gaps, (0.2, 0.3, 0.3)):
        assert gap <= bound + 0.15  # sleep ≤ bound, plus call overhead


def test_retries_stop_at_the_deadline(fake):
    # The pushback (longer than any jittered sleep) fixes the sleeps at 0.4 s: attempts at 0, 0.4
    # and 0.8 s; the next would start past the 1 s deadline, so the client stops with the last
    # failure 0.2 s before it instead of sending an attempt the deadline cuts off.
    fake.service.handler = failing(C.UNAVAILABLE, times=100, trailing=[("grpc-retry-pushback-ms", "400")])
    slow = fpgascore.RetryPolicy(max_attempts=100, initial_backoff=0.1, max_backoff=0.1, multiplier=1)
    started = time.monotonic()
    with client_for(fake, retry_policy=slow) as client:
        with pytest.raises(fpgascore.UnavailableError):
            client.score_image(b"x", timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert 2 <= len(fake.calls) <= 3  # 2 when a busy machine delays the first two past 0.2 s


def test_deadline_is_sent_and_enforced(fake):
    def slow(request, context):
        time.sleep(1.0)
        return scores_response(rows_of(request))[0]

    fake.service.handler = slow
    with client_for(fake, timeout=3.0) as client:
        started = time.monotonic()
        with pytest.raises(fpgascore.DeadlineExceededError) as info:
            client.score_image(b"x", timeout=0.3)
        assert info.value.code == C.DEADLINE_EXCEEDED and time.monotonic() - started < 0.9
        assert isinstance(info.value, TimeoutError)
        client.score_image(b"x")  # the client default (3 s) is long enough
    assert fake.calls[0].deadline is not None and fake.calls[0].deadline <= 0.35
    assert 2.0 < fake.calls[-1].deadline <= 3.1  # the wire rounds deadlines up


def test_default_deadline_is_ten_seconds(fake):
    with client_for(fake) as client:
        client.score_image(b"x")
    assert 9.0 < fake.calls[0].deadline <= 10.1


def test_keys_on_every_call_raw_and_bearer():
    from fake_server import start_fake
    fake = start_fake()
    try:
        with client_for(fake, access_token="k1", allow_insecure_key=True) as client:
            client.score_image(b"x")
            client.score_image(b"x")
        with client_for(fake, access_token="k1", auth_scheme="bearer", allow_insecure_key=True) as client:
            client.score_image(b"x")
        assert [c.metadata.get("authorization") for c in fake.calls] == ["k1", "k1", "Bearer k1"]
    finally:
        fake.server.stop(None)


def _auth_handler(accepted):
    def handle(request, context):
        if dict(context.invocation_metadata()).get("authorization") not in accepted:
            context.abort(C.UNAUTHENTICATED, "authorization not accepted")
        return scores_response(rows_of(request))[0]
    return handle


def test_secondary_key_failover_sticks(fake):
    fake.service.handler = _auth_handler({"k2"})
    info = fpgascore.CallInfo()
    with client_for(fake, access_token="k1", secondary_access_token="k2", allow_insecure_key=True) as client:
        client.score_image(b"x", call_info=info)
        client.score_image(b"x")
    assert [c.metadata["authorization"] for c in fake.calls] == ["k1", "k2", "k2"]
    assert info.attempts == 2


def test_failover_is_not_counted_as_a_retry(fake):
    calls = {"n": 0}

    def handle(request, context):
        calls["n"] += 1
        if dict(context.invocation_metadata())["authorization"] != "k2":
            context.abort(C.UNAUTHENTICATED, "no")
        if calls["n"] < 5:
            context.abort(C.UNAVAILABLE, "busy")
        return scores_response(rows_of(request))[0]

    fake.service.handler = handle
    with client_for(fake, access_token="k1", secondary_access_token="k2", allow_insecure_key=True) as client:
        client.score_image(b"x")  # k1 (401), k2 busy x3, k2 ok: 4 counted attempts
    assert calls["n"] == 5


def test_failover_happens_once_and_reports_unauthenticated(fake):
    fake.service.handler = _auth_handler(set())
    with client_for(fake, access_token="k1", secondary_access_token="k2", allow_insecure_key=True) as client:
        with pytest.raises(fpgascore.AuthenticationError) as info:
            client.score_image(b"x")
    assert [c.metadata["authorization"] for c in fake.calls] == ["k1", "k2"]
    assert "k1" not in str(info.value) and "k2" not in str(info.value)


def test_no_failover_without_a_secondary_key(fake):
    fake.service.handler = _auth_handler(set())
    with client_for(fake, access_token="k1", allow_insecure_key=True) as client:
        with pytest.raises(fpgascore.AuthenticationError):
            client.score_image(b"x")
    assert len(fake.calls) == 1


def test_server_echoing_the_key_is_redacted(fake):
    def echo(request, context):
        context.abort(C.UNAUTHENTICATED, f"bad key {dict(context.invocation_metadata())['authorization']}")

    fake.service.handler = echo
    with client_for(fake, access_token="k-very-secret", allow_insecure_key=True) as client:
        with pytest.raises(fpgascore.AuthenticationError) as info:
            client.score_image(b"x")
    assert "k-very-secret" not in str(info.value) and "k-very-secret" not in repr(info.value)


def test_metadata_per_client_and_per_call(fake):
    with client_for(fake, metadata=[("x-team", "vision")]) as client:
        client.score_image(b"x", metadata=[("X-Trace", "t1")])
        client.score_image(b"x", metadata={"x-trace": "t2"})
    assert fake.calls[0].metadata["x-team"] == "vision" and fake.calls[0].metadata["x-trace"] == "t1"
    assert fake.calls[1].metadata["x-trace"] == "t2"


def test_malformed_response_is_internal_with_request_id(fake):
    fake.service.handler = lambda request, context: scores_response(1, columns=10)[0]
    with client_for(fake) as client:
        with pytest.raises(fpgascore.InternalError) as info:
            client.score_image(b"x")
    assert info.value.request_id == "fake-1" and "expected shape [1, 1000]" in info.value.details


def test_missing_output_is_internal(fake):
    fake.service.handler = lambda request, context: predict_pb2.PredictResponse()
    with client_for(fake) as client:
        with pytest.raises(fpgascore.InternalError, match="output_alias"):
            client.score_image(b"x")


def test_predict_low_level_returns_the_response(fake):
    with client_for(fake) as client:
        response = client.predict({"images": fpgascore.image_tensor([b"a", b"b"])}, output_filter=["output_alias"])
    assert isinstance(response, predict_pb2.PredictResponse)
    assert fpgascore.decode_scores(response).shape == (2, 1000)
    assert list(fake.calls[0].request.output_filter) == ["output_alias"]


def test_bad_inputs_send_nothing(fake):
    with client_for(fake) as client:
        for bad in (lambda: client.score_images([]), lambda: client.score_image(b""),
                    lambda: client.score_numpy_array(np.zeros((224, 224))),
                    lambda: client.score_numpy_array(np.zeros((1, 224, 224, 4))),
                    lambda: client.score_numpy_array(np.zeros((0, 224, 224, 3))),
                    lambda: client.score_numpy_array(np.zeros((224, 224, 3), dtype=object)),
                    lambda: client.score_numpy_array([[1.0]])):
            with pytest.raises(fpgascore.InvalidInputError) as info:
                bad()
            assert info.value.code == C.INVALID_ARGUMENT and info.value.request_id == ""
    assert fake.calls == []


def test_unreachable_server_is_unavailable_without_request_id():
    with fpgascore.PredictionClient("127.0.0.1", 1, retry_policy=FAST) as client:
        with pytest.raises(fpgascore.UnavailableError) as info:
            client.score_image(b"x")
    assert info.value.request_id == "" and not isinstance(info.value, fpgascore.UntrustedCertificateError)


def test_retry_logs_never_show_keys(fake, caplog):
    fake.service.handler = failing(C.UNAVAILABLE, times=2)
    caplog.set_level(logging.DEBUG)
    with client_for(fake, access_token="k-log-secret", allow_insecure_key=True) as client:
        client.score_image(b"x")
    assert "retrying" in caplog.text and "k-log-secret" not in caplog.text


def test_thread_safe_concurrent_calls(fake):
    from concurrent.futures import ThreadPoolExecutor
    with client_for(fake) as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: client.score_images([b"x"] * (1 + i % 3)), range(24)))
    assert [r.shape[0] for r in results] == [1 + i % 3 for i in range(24)]


def test_the_client_sends_exactly_the_vector_bytes(fake):
    import json
    from conftest import VECTORS
    spec = json.loads((VECTORS / "vectors.json").read_text())
    fake.service.handler = lambda request, context: scores_response(rows_of(request), columns=1000)[0]
    with client_for(fake) as client:
        client.score_images([bytes.fromhex(h) for h in spec["images_hex"]])
        fake.service.handler = lambda request, context: predict_pb2.PredictResponse()
        client.predict({"images": fpgascore.float_tensor(spec["float_tensor"]["values"], spec["float_tensor"]["shape"])})
    assert fake.calls[0].request.SerializeToString(deterministic=True) == \
        (VECTORS / "predict_request_images.bin").read_bytes()
    assert fake.calls[1].request.SerializeToString(deterministic=True) == \
        (VECTORS / "predict_request_float_tensor.bin").read_bytes()


# -- model metadata from a server that is not the reference server ------------------------

def _metadata_response(type_url="type.googleapis.com/tensorflow.serving.SignatureDefMap", signature="serving_default",
                       value=None):
    from fpgascore.v1 import model_metadata_pb2, tensor_pb2
    response = model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "resnet50"
    signatures = model_metadata_pb2.SignatureDefMap()
    image = signatures.signature_def[signature].inputs["images"]
    image.dtype = tensor_pb2.DT_STRING
    image.tensor_shape.dim.add(size=-1)
    response.metadata["signature_def"].type_url = type_url
    response.metadata["signature_def"].value = signatures.SerializeToString() if value is None else value
    return response


def test_model_metadata_request_and_answer_without_a_version(fake):
    seen = []

    def handle(request, context):
        seen.append(request)
        return _metadata_response()

    fake.service.metadata_handler = handle
    with client_for(fake, model_name="resnet50-x") as client:
        metadata = client.model_metadata()
    assert list(seen[0].metadata_field) == ["signature_def"] and seen[0].model_spec.name == "resnet50-x"
    assert metadata.version is None and metadata.outputs == ()
    assert metadata.inputs == (fpgascore.TensorSpec("images", "DT_STRING", (-1,)),)


@pytest.mark.parametrize("response, message", [
    (lambda: _metadata_response(signature="other"), "no signature 'serving_default' (signatures: other)"),
    (lambda: _metadata_response(type_url="type.googleapis.com/foo.Bar"), "expected tensorflow.serving.SignatureDefMap"),
    (lambda: _metadata_response(value=b"\xff\xff\xff"), "does not parse"),
    (lambda: __import__("fpgascore.v1.model_metadata_pb2").v1.model_metadata_pb2.GetModelMetadataResponse(),
     "has no 'signature_def'"),
])
def test_malformed_model_metadata_is_internal_with_request_id(fake, response, message):
    fake.service.metadata_handler = lambda request, context: response()
    with client_for(fake) as client:
        with pytest.raises(fpgascore.InternalError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
            client.model_metadata()
    assert raised.value.request_id == "fake-metadata"


def test_what_a_server_puts_into_a_metadata_error_is_bounded(fake):
    from fpgascore.v1 import model_metadata_pb2
    signatures = model_metadata_pb2.SignatureDefMap()
    for index in range(1000):
        signatures.signature_def[f"{index:04d}" + "s" * 10_000].method_name = "x"
    fake.service.metadata_handler = lambda request, context: _metadata_response(value=signatures.SerializeToString())
    with client_for(fake) as client:
        with pytest.raises(fpgascore.InternalError) as raised:
            client.model_metadata()
    assert len(str(raised.value)) < 1000 and "(995 more)" in str(raised.value)
    fake.service.metadata_handler = lambda request, context: _metadata_response(type_url="u" * 100_000)
    with client_for(fake) as client:
        with pytest.raises(fpgascore.InternalError) as raised:
            client.model_metadata()
    assert len(str(raised.value)) < 1000


def test_call_info_has_the_last_attempts_trailing_metadata(fake):
    def handle(request, context):
        attempt = len(fake.calls)
        context.set_trailing_metadata([("request-id", f"id-{attempt}"), ("x-attempt", str(attempt)),
                                       ("x-blob-bin", b"\x00\x01")])
        if attempt < 2:
            context.abort(C.UNAVAILABLE, "try again")
        return scores_response(rows_of(request))[0]

    fake.service.handler = handle
    info = fpgascore.CallInfo()
    with client_for(fake) as client:
        client.score_image(b"x", call_info=info)
    assert info.trailing_metadata == (("request-id", "id-2"), ("x-attempt", "2"))  # text entries only
    fake.service.handler = failing(C.INVALID_ARGUMENT, trailing=[("x-why", "bad image")])
    failed = fpgascore.CallInfo()
    with client_for(fake) as client, pytest.raises(fpgascore.ScoringError):
        client.score_image(b"x", call_info=failed)
    assert dict(failed.trailing_metadata)["x-why"] == "bad image"
    assert fpgascore.CallInfo().trailing_metadata == ()


def test_the_fpgascore_logger_tells_attempts_retries_failovers_and_the_end(fake, caplog):
    calls = {"n": 0}

    def handle(request, context):
        calls["n"] += 1
        context.set_trailing_metadata([("request-id", f"id-{calls['n']}")])
        if calls["n"] == 1:
            context.abort(C.UNAUTHENTICATED, "not accepted")
        if calls["n"] == 2:
            context.abort(C.UNAVAILABLE, "busy")
        return scores_response(rows_of(request))[0]

    fake.service.handler = handle
    caplog.set_level(logging.DEBUG, logger="fpgascore")
    with client_for(fake, access_token="k-first-secret", secondary_access_token="k-second-secret",
                    allow_insecure_key=True) as client:
        client.score_image(b"x")
    lines = [r.getMessage() for r in caplog.records if r.name == "fpgascore"]
    assert any("attempt 1" in m and "UNAUTHENTICATED" in m and "other key" in m and "id-1" in m for m in lines), lines
    assert any("attempt 2" in m and "UNAVAILABLE" in m and "retrying" in m and "id-2" in m for m in lines), lines
    assert any("ended OK after 3 attempt(s)" in m and "id-3" in m for m in lines), lines
    assert not any("secret" in m for m in lines)


@pytest.mark.parametrize("trailing_id", [None, "from-the-trailers"])
def test_the_request_id_of_a_success_comes_from_the_trailers_else_the_initial_metadata(fake, trailing_id):
    def answer(request, context):
        context.send_initial_metadata([("request-id", "from-the-headers")])
        context.set_trailing_metadata([("request-id", trailing_id)] if trailing_id else [])
        return scores_response(rows_of(request))[0]

    fake.service.handler = answer
    expected = trailing_id or "from-the-headers"
    with fpgascore.PredictionClient(fake.host, fake.port) as client:
        info = fpgascore.CallInfo()
        client.score_image(b"\xff\xd8x", call_info=info)
        assert info.request_id == expected

    async def asynchronous() -> str:
        async with fpgascore.AsyncPredictionClient(fake.host, fake.port) as client:
            info = fpgascore.CallInfo()
            await client.score_image(b"\xff\xd8x", call_info=info)
            return info.request_id

    assert asyncio.run(asynchronous()) == expected
