"""Unit tests without a server: retry policy, errors, input checks, labels, keys, options."""
from __future__ import annotations

import pickle
import random

import grpc
import numpy as np
import pytest

import fpgascore
from fpgascore import _errors, _retry
from fpgascore._auth import KeyRing
from fpgascore._channel import DEFAULT_MAX_RESPONSE_BYTES, channel_options, target_of
from fpgascore._tls import resolve_root_certificates
from fpgascore.v1 import predict_pb2, tensor_pb2

pytestmark = pytest.mark.timeout(30)

C = grpc.StatusCode


# -- retry policy -----------------------------------------------------------------------

def test_retry_policy_defaults_are_the_spec():
    policy = fpgascore.RetryPolicy()
    assert (policy.max_attempts, policy.initial_backoff, policy.max_backoff, policy.multiplier) == (4, 0.1, 2.0, 2.0)
    assert [policy.backoff_bound(n) for n in range(1, 8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert policy.backoff_bound(10_000) == 2.0
    assert fpgascore.RetryPolicy.no_retries().max_attempts == 1 == fpgascore.RetryPolicy.disabled().max_attempts


@pytest.mark.parametrize("kwargs", [dict(max_attempts=0), dict(initial_backoff=0), dict(multiplier=0.5),
                                    dict(initial_backoff=3.0, max_backoff=2.0), dict(max_attempts=1.5)])
def test_retry_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        fpgascore.RetryPolicy(**kwargs)


@pytest.mark.parametrize("code,metadata,retried", [
    (C.UNAVAILABLE, (), True),
    (C.ABORTED, (), True),
    (C.RESOURCE_EXHAUSTED, (), False),
    (C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "0"),), True),
    (C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "250"),), True),
    (C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "-1"),), False),
    (C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "soon"),), False),
    (C.INVALID_ARGUMENT, (), False),
    (C.UNAUTHENTICATED, (), False),
    (C.PERMISSION_DENIED, (), False),
    (C.DEADLINE_EXCEEDED, (), False),
    (C.FAILED_PRECONDITION, (), False),
    (C.INTERNAL, (), False),
    (C.UNKNOWN, (), False),
])
def test_retried_codes(code, metadata, retried):
    assert _retry.is_retryable(code, metadata) is retried


def test_planner_full_jitter_bounds_and_attempt_cap():
    clock = [0.0]
    planner = _retry.RetryPlanner(fpgascore.RetryPolicy(), deadline=100.0, clock=lambda: clock[0],
                                  rng=random.Random(1))
    sleeps = [planner.next_sleep(C.UNAVAILABLE, (), attempts) for attempts in (1, 2, 3)]
    for sleep, bound in zip(sleeps, (0.1, 0.2, 0.4)):
        assert 0.0 <= sleep <= bound
    assert planner.next_sleep(C.UNAVAILABLE, (), 4) is None  # 4 attempts made: done


def test_planner_uses_pushback_when_larger_and_respects_the_deadline():
    planner = _retry.RetryPlanner(fpgascore.RetryPolicy(), deadline=1.0, clock=lambda: 0.0)
    assert planner.next_sleep(C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "500"),), 1) == 0.5
    assert planner.next_sleep(C.RESOURCE_EXHAUSTED, (("grpc-retry-pushback-ms", "5000"),), 2) is None


def test_planner_jitter_is_uniform_over_the_whole_interval():
    planner = _retry.RetryPlanner(fpgascore.RetryPolicy(max_attempts=10 ** 6), 1e9, lambda: 0.0, random.Random(7))
    sleeps = []
    for _ in range(2000):
        planner.retries = 0
        sleeps.append(planner.next_sleep(C.UNAVAILABLE, (), 1))
    assert min(sleeps) < 0.01 and max(sleeps) > 0.09 and 0.04 < float(np.mean(sleeps)) < 0.06


# -- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("code,cls", [
    (C.INVALID_ARGUMENT, fpgascore.InvalidInputError), (C.UNAUTHENTICATED, fpgascore.AuthenticationError),
    (C.PERMISSION_DENIED, fpgascore.PermissionDeniedError), (C.UNAVAILABLE, fpgascore.UnavailableError),
    (C.DEADLINE_EXCEEDED, fpgascore.DeadlineExceededError), (C.INTERNAL, fpgascore.InternalError),
    (C.RESOURCE_EXHAUSTED, fpgascore.ResourceExhaustedError), (C.DATA_LOSS, fpgascore.ScoringError),
    (C.FAILED_PRECONDITION, fpgascore.FailedPreconditionError), (C.CANCELLED, fpgascore.CancelledError),
])
def test_error_classes_by_code(code, cls):
    error = _errors.error_for(code, "msg", "rid-1")
    assert type(error) is cls and error.code == code and error.details == "msg" and error.request_id == "rid-1"
    assert isinstance(error, fpgascore.ScoringError)
    assert "rid-1" in str(error) and code.name in str(error)


def test_insecure_key_error_is_failed_precondition():
    assert issubclass(fpgascore.InsecureKeyError, fpgascore.FailedPreconditionError)
    assert fpgascore.InsecureKeyError("x").code == C.FAILED_PRECONDITION
    assert fpgascore.InvalidInputError("x").code == C.INVALID_ARGUMENT


@pytest.mark.parametrize("details", [
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Ssl handshake failed: "
    "SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Peer name localhost is "
    "not in peer certificate",
    "Ssl handshake failed: SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed",
])
def test_certificate_failures_are_mapped(details):
    error = _errors.error_for(C.UNAVAILABLE, details)
    assert isinstance(error, fpgascore.UntrustedCertificateError) and isinstance(error, fpgascore.UnavailableError)
    assert error.code == C.UNAVAILABLE and "certificate was not trusted" in str(error)


def test_other_unavailable_errors_are_not_certificate_errors():
    error = _errors.error_for(C.UNAVAILABLE, "failed to connect to all addresses; Connection refused")
    assert type(error) is fpgascore.UnavailableError


@pytest.mark.parametrize("use_ssl,details,phrase,option", [
    (True, "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Ssl handshake failed: "
     "SSL_ERROR_SSL: error:0A00010B:SSL routines::wrong version number", "the server does not speak TLS",
     "use_ssl=False"),
    (False, "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed",
     "the server speaks TLS", "use_ssl=True"),
])
def test_tls_mismatches_say_what_to_do(use_ssl, details, phrase, option):
    error = _errors.error_for(C.UNAVAILABLE, details, use_ssl=use_ssl)
    assert type(error) is fpgascore.UnavailableError and error.code == C.UNAVAILABLE
    assert error.details.startswith(phrase) and option in error.details and details in error.details
    assert _errors.never_retried(error)


@pytest.mark.parametrize("use_ssl,details", [
    # a closed socket on a TLS channel, or on a call (not while connecting), is no mismatch
    (True, "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"),
    (False, "Socket closed"),
    (False, "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Connection refused"),
    (None, "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"),
])
def test_other_connection_failures_are_no_tls_mismatch(use_ssl, details):
    error = _errors.error_for(C.UNAVAILABLE, details, use_ssl=use_ssl)
    assert error.details == details and not _errors.never_retried(error)


@pytest.mark.parametrize("name", [name for name in fpgascore.__all__ if name.endswith("Error")])
def test_public_errors_print_under_the_package(name):
    cls = getattr(fpgascore, name)
    assert cls.__module__ == "fpgascore" and cls.__qualname__ == name
    assert f"fpgascore.{name}" in repr(cls)
    try:
        raise cls("boom")
    except fpgascore.ScoringError:
        import traceback
        assert traceback.format_exc().splitlines()[-1].startswith(f"fpgascore.{name}: ")
    again = pickle.loads(pickle.dumps(cls("boom", request_id="r")))
    assert type(again) is cls and again.details == "boom" and again.request_id == "r"


def test_errors_are_redacted_and_picklable():
    error = _errors.error_for(C.UNAUTHENTICATED, "bad key sekrit-123", "r", secrets=["sekrit-123"])
    assert "sekrit-123" not in str(error) and "sekrit-123" not in repr(error) and "<redacted>" in error.details
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is fpgascore.AuthenticationError and again.request_id == "r" and again.code == error.code


# -- input checks -----------------------------------------------------------------------

def test_empty_batch_and_empty_images_are_invalid(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for bad in ([], [b""], [b"x", b""], [str(empty)], [tmp_path / "missing.jpg"]):
        with pytest.raises(fpgascore.InvalidInputError) as info:
            fpgascore.image_tensor(bad)
        assert info.value.code == C.INVALID_ARGUMENT


def test_a_single_image_is_not_a_batch():
    with pytest.raises(fpgascore.InvalidInputError):
        fpgascore.image_tensor(b"abc")
    with pytest.raises(fpgascore.InvalidInputError):
        fpgascore.image_tensor("some/path.jpg")


@pytest.mark.parametrize("values,shape", [
    ([1.0, 2.0, 3.0], [2, 2]), ([1.0], [0]), ([1.0, 2.0], [2, -1]), ([], []), (["a", "b"], [2]),
    (np.array([1 + 2j]), [1]), (np.array([True]), [1]),
])
def test_bad_float_tensors(values, shape):
    with pytest.raises(fpgascore.InvalidInputError):
        fpgascore.float_tensor(values, shape)


def test_non_finite_floats_are_sent_as_they_are():
    tensor = fpgascore.float_tensor([np.nan, np.inf, -np.inf], [3])
    assert np.isnan(np.frombuffer(tensor.tensor_content, "<f4")[0])


# -- decoding ---------------------------------------------------------------------------

def _response(**fields) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    response.outputs["output_alias"].CopyFrom(tensor_pb2.TensorProto(**fields))
    return response


def _shape(*dims):
    return tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def test_malformed_responses_are_internal_errors():
    with pytest.raises(fpgascore.InternalError, match="no output 'output_alias'"):
        fpgascore.decode_scores(predict_pb2.PredictResponse())
    with pytest.raises(fpgascore.InternalError, match="expected shape"):
        fpgascore.decode_scores(_response(dtype=1, tensor_shape=_shape(1, 3), float_val=[1, 2, 3]), rows=1, columns=1000)
    with pytest.raises(fpgascore.InternalError, match="do not fit"):
        fpgascore.decode_scores(_response(dtype=1, tensor_shape=_shape(2, 3), float_val=[1, 2, 3]))
    with pytest.raises(fpgascore.InternalError, match="dtype"):
        fpgascore.decode_scores(_response(dtype=7, tensor_shape=_shape(1), string_val=[b"x"]))
    with pytest.raises(fpgascore.InternalError, match="whole number"):
        fpgascore.decode_scores(_response(dtype=1, tensor_shape=_shape(1), tensor_content=b"abc"))
    with pytest.raises(fpgascore.InternalError):
        fpgascore.decode_scores(_response(dtype=1))
    assert fpgascore.InternalError("x").code == C.INTERNAL


def test_decoding_checks_the_shape_not_only_the_size():
    content = np.arange(6, dtype="<f4").tobytes()
    with pytest.raises(fpgascore.InternalError, match=r"of shape \[3, 2\], expected shape \[2, 3\]"):
        fpgascore.decode_scores(_response(dtype=1, tensor_shape=_shape(3, 2), tensor_content=content), rows=2, columns=3)
    # The same dimensions in another encoding (named) are still [2, 3].
    named = tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=2, name="batch"),
                                             tensor_pb2.TensorShapeProto.Dim(size=3, name="classes")])
    scores = fpgascore.decode_scores(_response(dtype=1, tensor_shape=named, tensor_content=content), rows=2, columns=3)
    np.testing.assert_array_equal(scores, np.arange(6, dtype=np.float32).reshape(2, 3))
    # A shape without dimensions (unknown rank) takes rows and columns.
    unknown = tensor_pb2.TensorShapeProto(unknown_rank=True)
    scores = fpgascore.decode_scores(_response(dtype=1, tensor_shape=unknown, tensor_content=content), rows=2, columns=3)
    assert scores.shape == (2, 3)


def test_decoding_without_shape_uses_rows_and_columns():
    scores = fpgascore.decode_scores(_response(dtype=1, float_val=[0.5] * 2000), rows=2, columns=1000)
    assert scores.shape == (2, 1000)


def _scores_response(values: np.ndarray, float_val: bool) -> predict_pb2.PredictResponse:
    fields = {"float_val": values.ravel().tolist()} if float_val else {"tensor_content": values.astype("<f4").tobytes()}
    return _response(dtype=1, tensor_shape=_shape(*values.shape), **fields)


@pytest.mark.parametrize("float_val", [False, True], ids=["tensor_content", "float_val"])
@pytest.mark.parametrize("value, name", [(np.nan, "NaN"), (np.inf, "+Inf"), (-np.inf, "-Inf")])
def test_a_non_finite_score_is_internal_naming_its_image_and_class(value, name, float_val):
    values = np.full((2, 1000), 0.001, dtype=np.float32)
    values[1, 999] = value
    values[1, 7:9] = -np.inf if value == np.inf else np.inf  # later ones are counted, not located
    with pytest.raises(fpgascore.NonFiniteScoreError) as raised:
        fpgascore.decode_scores(_scores_response(values[:, ::-1].copy(), float_val), rows=2, columns=1000)
    error = raised.value
    assert isinstance(error, fpgascore.InternalError) and error.code == C.INTERNAL
    assert (error.image_index, error.class_index) == (1, 0)
    assert f"non-finite score ({name}) at image 1, class 0" in error.details
    assert "3 of 2000 scores are not finite" in error.details and len(error.details) < 200
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is fpgascore.NonFiniteScoreError and (again.image_index, again.class_index) == (1, 0)
    assert again.details == error.details


def test_non_finite_scores_are_refused_by_every_decoding_path():
    values = np.zeros((2, 3), dtype=np.float32)
    values[0, 2] = np.nan
    for kwargs in ({}, {"rows": 2, "columns": 3}):
        with pytest.raises(fpgascore.NonFiniteScoreError, match="image 0, class 2"):
            fpgascore.decode_scores(_scores_response(values, False), **kwargs)
    with pytest.raises(fpgascore.NonFiniteScoreError, match="image 0, class 1"):
        fpgascore.decode_scores(_response(dtype=1, float_val=[0.0, np.inf]))  # no shape: one row


def test_negative_and_unnormalised_finite_scores_pass_through():
    values = np.array([[-7.5, 0.0, 3.0e38, -3.0e38, 1e-45]], dtype=np.float32)
    for float_val in (False, True):
        decoded = fpgascore.decode_scores(_scores_response(values, float_val), rows=1, columns=5)
        np.testing.assert_array_equal(decoded, values)


# -- response size limit ------------------------------------------------------------------

def test_the_response_limit_defaults_to_16_mib_and_is_checked():
    assert DEFAULT_MAX_RESPONSE_BYTES == fpgascore.DEFAULT_MAX_RESPONSE_BYTES == 16 * 1024 * 1024
    assert ("grpc.max_receive_message_length", 16 * 1024 * 1024) in channel_options()
    assert ("grpc.max_receive_message_length", 1234) in channel_options(max_response_bytes=1234)
    for bad in (0, -1, True, 2**31, "16", 1.5):
        with pytest.raises(ValueError, match="max_response_bytes"):
            fpgascore.PredictionClient("h", 1, max_response_bytes=bad)
    fpgascore.PredictionClient("h", 1, max_response_bytes=2**31 - 1).close()


# -- labels -----------------------------------------------------------------------------

def test_labels_are_shipped_and_indexed_from_zero():
    labels = fpgascore.labels()
    assert len(labels) == 1000 and labels[0] == "tench" and labels[1] == "goldfish"
    assert fpgascore.label(2) == "great white shark" and fpgascore.label(5000) == "class 5000"


def test_top_k_order_ties_and_types():
    scores = np.zeros(1000, dtype=np.float32)
    scores[[10, 3, 999]] = [0.5, 0.5, 0.9]
    top = fpgascore.top_k(scores, 3)
    assert [p.class_id for p in top] == [999, 3, 10]
    assert top[0] == fpgascore.Prediction(999, fpgascore.labels()[999], pytest.approx(0.9))
    assert isinstance(top[0].class_id, int) and isinstance(top[0].score, float)
    assert fpgascore.top_k(scores[None, :], 1)[0].class_id == 999
    assert fpgascore.top_k(scores, 0) == []
    with pytest.raises(ValueError):
        fpgascore.top_k(np.zeros((2, 1000)))


# -- keys and options -------------------------------------------------------------------

def test_key_ring_headers_and_failover_state():
    ring = KeyRing("k1", "k2", "bearer")
    assert ring.header(0) == ("authorization", "Bearer k1") and ring.header(1) == ("authorization", "Bearer k2")
    assert ring.current() == 0 and ring.other(0) == 1
    ring.prefer(1)
    assert ring.current() == 1
    assert "k1" not in repr(ring) and "k2" not in repr(ring)
    assert KeyRing("k1").header(0) == ("authorization", "k1")
    assert KeyRing(None).header(KeyRing(None).current()) is None
    with pytest.raises(ValueError):
        KeyRing("k", scheme="basic")
    with pytest.raises(ValueError):
        KeyRing(None, "k2")
    with pytest.raises(ValueError):
        KeyRing("")


def test_plaintext_key_is_refused_at_construction():
    with pytest.raises(fpgascore.InsecureKeyError) as info:
        fpgascore.PredictionClient("127.0.0.1", 1, access_token="k-secret-1")
    assert info.value.code == C.FAILED_PRECONDITION and "k-secret-1" not in str(info.value)
    with pytest.raises(fpgascore.InsecureKeyError):
        fpgascore.PredictionClient("127.0.0.1", 1, use_ssl=False, access_token="k", secondary_access_token="k2")
    with fpgascore.PredictionClient("127.0.0.1", 1, access_token="k", allow_insecure_key=True):
        pass
    with fpgascore.PredictionClient("127.0.0.1", 1):
        pass


def test_repr_never_shows_keys():
    client = fpgascore.PredictionClient("localhost", 443, use_ssl=True, access_token="k-AAAA-secret",
                                        secondary_access_token="k-BBBB-secret", auth_scheme="bearer")
    text = repr(client) + str(client) + repr(client._config) + repr(vars(client))
    assert "k-AAAA-secret" not in text and "k-BBBB-secret" not in text
    assert "bearer key + secondary" in repr(client)
    client.close()


def test_option_checks():
    with pytest.raises(ValueError):
        fpgascore.PredictionClient("", 1)
    with pytest.raises(ValueError):
        fpgascore.PredictionClient("h", 0)
    with pytest.raises(ValueError):
        fpgascore.PredictionClient("h", 1, timeout=0)
    with pytest.raises(ValueError):
        fpgascore.PredictionClient("h", 1, root_certificates=b"-----BEGIN")  # TLS options without TLS
    with pytest.raises(TypeError):
        fpgascore.PredictionClient("h", 1, no_such_option=True)
    assert target_of("::1", 5) == "[::1]:5" and target_of("h", 5) == "h:5"


def test_root_certificates_forms(tmp_path, pki, monkeypatch):
    pem = pki.ca.read_bytes()
    assert resolve_root_certificates(pem) == pem
    assert resolve_root_certificates(pem.decode()) == pem
    assert resolve_root_certificates(str(pki.ca)) == pem
    assert resolve_root_certificates(pki.ca) == pem
    with pytest.raises(ValueError):
        resolve_root_certificates(b"not a certificate")
    with pytest.raises(ValueError):
        resolve_root_certificates(tmp_path / "missing.pem")
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", str(pki.untrusted_ca))
    assert resolve_root_certificates(None) == pki.untrusted_ca.read_bytes()
    assert resolve_root_certificates(pem) == pem  # explicit roots win
    monkeypatch.delenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    system = resolve_root_certificates(None)
    assert system is None or b"-----BEGIN CERTIFICATE-----" in system


def test_authorization_is_never_accepted_as_metadata():
    from fpgascore._config import normalize_metadata
    with pytest.raises(fpgascore.InvalidInputError, match="access_token") as refused:
        fpgascore.PredictionClient("127.0.0.1", 1, metadata=[("Authorization", "sneaky")])
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT and "sneaky" not in str(refused.value)
    with pytest.raises(ValueError, match="access_token"):  # InvalidInputError is a ValueError too
        normalize_metadata({"authorization": "per-call"})


def test_another_output_name_is_asked_for_in_the_output_filter():
    client = fpgascore.PredictionClient("127.0.0.1", 1, output_name="features")
    default = fpgascore.PredictionClient("127.0.0.1", 1)
    try:
        def sent(c):  # the request's wire bytes, as the server reads them
            return fpgascore.PredictRequest.FromString(c._images([b"\xff\xd8x"], squeeze=True).request)
        assert list(sent(client).output_filter) == ["features"]
        assert list(sent(default).output_filter) == []
    finally:
        client.close()
        default.close()


# -- keys: surrounding whitespace trimmed, anything else a header cannot carry refused --------

@pytest.mark.parametrize("raw", ["key-from-a-file\n", "key-from-a-file\r\n", "  key-from-a-file\t", "key-from-a-file\r"])
def test_surrounding_whitespace_of_a_key_is_trimmed(raw):
    from fpgascore._auth import KeyRing
    ring = KeyRing(raw, raw.replace("file", "other"), "bearer")
    assert ring.header(0) == ("authorization", "Bearer key-from-a-file")
    assert ring.header(1) == ("authorization", "Bearer key-from-a-other")


@pytest.mark.parametrize("raw, problem", [("first-half\nsecond-half", "U+000A at position 11"),
                                          ("first-half\x00", "U+0000"), ("first-halfé", "U+00E9"),
                                          ("   ", "is empty"), ("", "is empty")])
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(raw, problem):
    with pytest.raises(fpgascore.InvalidKeyError) as refused:
        fpgascore.PredictionClient("localhost", 1, use_ssl=True, access_token=raw)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT and problem in str(refused.value)
    assert "first-half" not in str(refused.value) and "first-half" not in repr(refused.value)
    assert isinstance(refused.value, ValueError)
