"""The shared wire vectors (tests/vectors): exact request bytes, decoded response floats."""
from __future__ import annotations

import json

import numpy as np
import pytest

import fpgascore
from fpgascore.v1 import predict_pb2
from conftest import VECTORS

pytestmark = pytest.mark.timeout(30)

SPEC = json.loads((VECTORS / "vectors.json").read_text())


def test_vector_constants_match_the_client_defaults():
    assert SPEC["model_name"] == fpgascore.MODEL_NAME
    assert SPEC["signature_name"] == fpgascore.SIGNATURE_NAME
    assert SPEC["input_name"] == fpgascore.INPUT_NAME
    assert SPEC["output_name"] == fpgascore.OUTPUT_NAME


def test_image_request_bytes():
    images = [bytes.fromhex(h) for h in SPEC["images_hex"]]
    request = fpgascore.predict_request({"images": fpgascore.image_tensor(images)})
    assert request.SerializeToString(deterministic=True) == (VECTORS / "predict_request_images.bin").read_bytes()


def test_image_request_bytes_from_files_and_file_objects(tmp_path):
    images = [bytes.fromhex(h) for h in SPEC["images_hex"]]
    path = tmp_path / "a.jpg"
    path.write_bytes(images[0])
    with open(tmp_path / "a.jpg", "rb") as first:
        request = fpgascore.predict_request({"images": fpgascore.image_tensor([first, images[1]])})
    assert request.SerializeToString(deterministic=True) == (VECTORS / "predict_request_images.bin").read_bytes()
    request = fpgascore.predict_request({"images": fpgascore.image_tensor([str(path), bytearray(images[1])])})
    assert request.SerializeToString(deterministic=True) == (VECTORS / "predict_request_images.bin").read_bytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f4"])
def test_float_tensor_request_bytes(dtype):
    values = np.array(SPEC["float_tensor"]["values"], dtype=dtype).reshape(SPEC["float_tensor"]["shape"])
    request = fpgascore.predict_request({"images": fpgascore.float_tensor(values)})
    assert request.SerializeToString(deterministic=True) == \
        (VECTORS / "predict_request_float_tensor.bin").read_bytes()
    assert not request.inputs["images"].float_val  # tensor_content only


def test_float_tensor_from_flat_values_and_shape():
    values = SPEC["float_tensor"]["values"]
    request = fpgascore.predict_request({"images": fpgascore.float_tensor(values, SPEC["float_tensor"]["shape"])})
    assert request.SerializeToString(deterministic=True) == \
        (VECTORS / "predict_request_float_tensor.bin").read_bytes()


@pytest.mark.parametrize("name", ["predict_response_tensor_content.bin", "predict_response_float_val.bin"])
def test_response_decoding(name):
    response = predict_pb2.PredictResponse.FromString((VECTORS / name).read_bytes())
    scores = fpgascore.decode_scores(response)
    expected = np.array(SPEC["response_scores"]["values"], dtype=np.float32).reshape(SPEC["response_scores"]["shape"])
    assert scores.dtype == np.float32
    assert scores.shape == tuple(SPEC["response_scores"]["shape"])
    np.testing.assert_array_equal(scores, expected)


def test_both_response_encodings_decode_identically():
    a = fpgascore.decode_scores(predict_pb2.PredictResponse.FromString(
        (VECTORS / "predict_response_tensor_content.bin").read_bytes()))
    b = fpgascore.decode_scores(predict_pb2.PredictResponse.FromString(
        (VECTORS / "predict_response_float_val.bin").read_bytes()))
    assert a.tobytes() == b.tobytes()
