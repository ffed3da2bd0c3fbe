"""Predict on a real server process over loopback: inputs, outputs, golden vectors, errors."""
import hashlib
import io
import json
import struct
import zlib

import grpc
import numpy as np
import pytest
from PIL import Image

from . import rpc

GOLDEN = json.loads((rpc.ROOT / "conformance" / "testdata" / "golden.json").read_text())
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def scores_of(response):
    return rpc.decode(response.outputs["output_alias"])


def digest(scores: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(scores, dtype="<f4").tobytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_image_scores_bit_for_bit_as_its_golden_vector(caller, name):
    response, _ = caller.predict(rpc.image_request([rpc.image(name)]))
    scores = scores_of(response)
    assert scores.shape == (1, 1000)
    assert digest(scores[0]) == GOLDEN[name]["sha256"]
    assert [int(i) for i in np.argsort(-scores[0], kind="stable")[:5]] == [c for c, _ in GOLDEN[name]["top5"]]


# The colour-mode images (grey.png, cmyk.jpg, multi-picture.mpo, ...) redraw these patterns,
# so they may share a pattern's top class.
DISTINCT_PATTERNS = ["gradient.jpg", "checkerboard.png", "rings.jpg", "tiny-noise.png", "large-150k.jpg"]


def test_different_images_have_different_top_classes():
    tops = {GOLDEN[name]["top5"][0][0] for name in DISTINCT_PATTERNS}
    assert len(tops) == len(DISTINCT_PATTERNS)


def test_batch_rows_equal_single_image_scores(caller):
    names = ["gradient.jpg", "checkerboard.png", "rings.jpg"]
    response, _ = caller.predict(rpc.image_request([rpc.image(n) for n in names]))
    scores = scores_of(response)
    assert scores.shape == (3, 1000)
    for row, name in zip(scores, names):
        assert digest(row) == GOLDEN[name]["sha256"]
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def test_float_tensor_in_tensor_content_and_float_val_give_the_same_scores(caller):
    values = np.random.default_rng(3).normal(0, 60, (2, 224, 224, 3)).astype(np.float32)
    by_content, _ = caller.predict(rpc.float_request(values))
    by_float_val, _ = caller.predict(rpc.float_request(values, as_float_val=True))
    assert scores_of(by_content).shape == (2, 1000)
    assert np.array_equal(scores_of(by_content), scores_of(by_float_val))


def test_output_encoding_follows_the_conformance_control(caller):
    request = rpc.image_request([rpc.image("gradient.jpg")])
    by_default, _ = caller.predict(request)
    as_content, _ = caller.predict(request, [("x-conformance-encoding", "tensor_content")])
    as_float_val, _ = caller.predict(request, [("x-conformance-encoding", "float_val")])
    assert as_content.outputs["output_alias"].tensor_content and not as_content.outputs["output_alias"].float_val
    assert len(as_float_val.outputs["output_alias"].float_val) == 1000
    assert not as_float_val.outputs["output_alias"].tensor_content
    assert by_default == as_float_val  # TF Serving's default encoding
    assert np.array_equal(scores_of(as_content), scores_of(as_float_val))


def test_output_filter_returns_the_featurizer_output(caller):
    request = rpc.image_request([rpc.image("gradient.jpg"), rpc.image("rings.jpg")])
    request.output_filter.extend(["features", "output_alias"])
    response, _ = caller.predict(request)
    assert rpc.decode(response.outputs["features"]).shape == (2, 2048)
    assert scores_of(response).shape == (2, 1000)
    only = rpc.image_request([rpc.image("gradient.jpg")])
    only.output_filter.append("features")
    response, _ = caller.predict(only)
    assert list(response.outputs) == ["features"]


def test_every_response_carries_a_fresh_request_id(caller):
    request = rpc.image_request([rpc.image("tiny-noise.png")])
    ids = {caller.predict(request)[1]["request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) == 32 for i in ids)


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header declares width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("request_factory, message", [
    (lambda: rpc.image_request([rpc.image("corrupt.jpg")]), "image 0: image could not be decoded"),
    (lambda: rpc.image_request([b"not an image at all"]), "not a JPEG or PNG"),
    (lambda: rpc.image_request([b""]), "image 0: image is empty"),
    (lambda: rpc.image_request([]), "empty batch"),
    (lambda: rpc.image_request([rpc.image("gradient.jpg")], dims=[2]), "declares shape [2] but holds 1"),
    (lambda: rpc.image_request([rpc.image("gradient.jpg")], dims=[1, 1]), "must have shape [N]"),
    (lambda: rpc.image_request([rpc.image("gradient.jpg")], input_name="pixels"), "unknown input 'pixels'"),
    (lambda: rpc.image_request([_png_bomb(50_000, 50_000)]), "image is too large (50000x50000)"),
    (lambda: rpc.image_request([rpc.image("gradient.jpg")] * 33), "at most 32 per request"),
    (lambda: rpc.float_request(np.zeros((1, 224, 224), np.float32)), "must have shape [N, 224, 224, 3]"),
    (lambda: rpc.float_request(np.zeros((1, 224, 224, 3), np.float32), dims=[2, 224, 224, 3]), "needs 1204224"),
    (lambda: rpc.float_request(np.full((1, 224, 224, 3), np.nan, np.float32)), "NaN or infinite"),
])
def test_bad_input_is_invalid_argument_with_a_precise_message(caller, request_factory, message):
    error = caller.error(request_factory())
    assert error.code() == INVALID, error.details()
    assert message in error.details()
    assert rpc.trailing(error)["request-id"]


def test_wrong_dtype_and_unknown_output_are_named(caller):
    request = rpc.image_request([rpc.image("gradient.jpg")])
    request.inputs["images"].dtype = 3  # DT_INT32
    error = caller.error(request)
    assert error.code() == INVALID and "dtype DT_INT32" in error.details()
    request = rpc.image_request([rpc.image("gradient.jpg")])
    request.output_filter.append("logits")
    error = caller.error(request)
    assert error.code() == INVALID and "unknown output 'logits'" in error.details()


def test_a_tiny_image_is_upscaled_and_scored(caller):
    response, _ = caller.predict(rpc.image_request([_png(1, 1)]))
    assert scores_of(response).shape == (1, 1000)


def test_an_oversized_message_is_resource_exhausted(caller):
    huge = rpc.image_request([b"\xff" * (17 * 1024 * 1024)])
    error = caller.error(huge)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_the_server_survives_every_bad_input(caller):
    response, _ = caller.predict(rpc.image_request([rpc.image("gradient.jpg")]))
    assert digest(scores_of(response)[0]) == GOLDEN["gradient.jpg"]["sha256"]


def test_the_null_model_answers_uniform_scores_without_decoding():
    from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
    config = ServerConfig(extra_env={"FPGASCORE_NULL_MODEL": "1"})
    with EmulatorProcess(config) as server:
        caller = rpc.plaintext(server.target)
        response, _ = caller.predict(rpc.image_request([b"not decoded", rpc.image("gradient.jpg")]))
        scores = scores_of(response)
        assert scores.shape == (2, 1000) and np.all(scores == np.float32(0.001))
        assert caller.error(rpc.image_request([b""])).code() == INVALID
        assert '"null_model":true' in server.logs()


@pytest.mark.parametrize("flags, message", [
    (["--response-encoding", "json"], "--response-encoding must be one of float_val, tensor_content"),
    (["--model-version", "-1"], "--model-version must not be negative"),
    (["--signature-name", ""], "must not be empty"),
])
def test_bad_model_settings_are_refused_at_start(flags, message):
    from fpgascore_emulator import config
    with pytest.raises(SystemExit, match=message):
        config.parse(flags, environ={})


@pytest.mark.parametrize("shape", [(1, 1000), (3, 1000), (2, 2048), (1, 1), (1, 40)])
def test_float_val_answer_is_the_message_float_val_extend_makes(shape):
    from fpgascore.v1 import tensor_pb2
    from fpgascore_emulator import tensors
    values = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    expected = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    expected.tensor_shape.dim.extend(tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape)
    expected.float_val.extend(values.ravel().tolist())
    made = tensors.float_tensor(values, as_float_val=True)
    assert made == expected and made.SerializeToString() == expected.SerializeToString()
