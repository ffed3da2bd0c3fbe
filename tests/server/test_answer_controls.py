"""The conformance controls that spoil an answer on purpose (x-conformance-scores,
x-conformance-pad-response-bytes): what they change, what they refuse, and that a padded
answer the server could not send is refused rather than failing in grpcio's send."""
import grpc
import numpy as np
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

REQUEST = rpc.image_request([rpc.image("gradient.jpg"), rpc.image("rings.jpg")])
INVALID = grpc.StatusCode.INVALID_ARGUMENT
MiB = 1024 * 1024


def scores_of(response):
    return rpc.decode(response.outputs["output_alias"])


@pytest.fixture(scope="module")
def honest(caller):
    response, _ = caller.predict(REQUEST)
    return scores_of(response)


@pytest.mark.parametrize("encoding", ["float_val", "tensor_content"])
@pytest.mark.parametrize("kind, test", [("nan", np.isnan), ("inf", np.isposinf), ("-inf", np.isneginf)])
def test_every_score_becomes_the_non_finite_value_asked_for(caller, kind, test, encoding):
    response, trailing = caller.predict(REQUEST, [("x-conformance-scores", kind),
                                                  ("x-conformance-encoding", encoding)])
    scores = scores_of(response)
    assert scores.shape == (2, 1000) and test(scores).all()
    assert trailing["request-id"]


def test_one_position_changes_only_that_score(caller, honest):
    response, _ = caller.predict(REQUEST, [("x-conformance-scores", "inf@1,999")])
    scores = scores_of(response)
    assert np.isposinf(scores[1, 999])
    changed = np.argwhere(scores != honest)
    assert changed.tolist() == [[1, 999]]


def test_negative_is_every_score_minus_two(caller, honest):
    response, _ = caller.predict(REQUEST, [("x-conformance-scores", "negative")])
    scores = scores_of(response)
    assert np.isfinite(scores).all() and (scores < 0).all()
    np.testing.assert_array_equal(scores, honest - np.float32(2))
    top5 = lambda values: np.argsort(-values, axis=1, kind="stable")[:, :5]  # noqa: E731
    assert (top5(scores) == top5(honest)).all()  # tiny scores may round together; the best do not


@pytest.mark.parametrize("value, message", [
    ("purple", "must be one of"),
    ("negative@0,0", "must be one of"),
    ("nan@one,2", "two integers"),
    ("nan@-1,2", "not negative"),
    ("nan@2,0", "outside an answer of shape [2, 1000]"),
    ("nan@0,1000", "outside an answer of shape [2, 1000]"),
    ("nan" + "x" * 5000, "must be one of"),
])
def test_malformed_scores_controls_are_invalid_argument(caller, value, message):
    error = caller.error(REQUEST, [("x-conformance-scores", value)])
    assert error.code() == INVALID and message in error.details()
    assert "xxxxxxxxxx" not in error.details()  # never echoed


def test_padding_adds_an_output_of_that_many_bytes(caller, honest):
    response, _ = caller.predict(REQUEST, [("x-conformance-pad-response-bytes", str(MiB))])
    padding = response.outputs["conformance_padding"]
    assert len(padding.tensor_content) == MiB and [d.size for d in padding.tensor_shape.dim] == [MiB]
    assert response.ByteSize() > MiB
    np.testing.assert_array_equal(scores_of(response), honest)
    plain, _ = caller.predict(REQUEST, [("x-conformance-pad-response-bytes", "0")])
    assert list(plain.outputs) == ["output_alias"]


@pytest.mark.parametrize("value", ["-1", "lots", str(64 * MiB + 1), "9" * 100])
def test_malformed_padding_is_invalid_argument(caller, value):
    error = caller.error(REQUEST, [("x-conformance-pad-response-bytes", value)])
    assert error.code() == INVALID and "from 0 to 67108864" in error.details()
    assert "9999999999" not in error.details()


def test_padding_beyond_what_the_server_sends_is_refused_not_resource_exhausted(caller):
    # The plain server sends at most 16 MiB: grpcio would fail that send RESOURCE_EXHAUSTED.
    error = caller.error(REQUEST, [("x-conformance-pad-response-bytes", str(16 * MiB))])
    assert error.code() == INVALID and "--max-message-bytes 16777216" in error.details()
    assert rpc.trailing(error)["request-id"]


def test_a_server_with_a_larger_limit_sends_a_padded_answer_over_16_mib():
    with EmulatorProcess(ServerConfig(conformance=True, max_message_bytes=32 * MiB)) as server:
        channel = grpc.insecure_channel(server.target, options=[("grpc.max_receive_message_length", 64 * MiB)])
        caller = rpc.Caller(channel)
        response, _ = caller.predict(REQUEST, [("x-conformance-pad-response-bytes", str(20 * MiB))])
        assert response.ByteSize() > 20 * MiB
        assert scores_of(response).shape == (2, 1000)
        channel.close()
