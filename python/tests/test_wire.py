"""The scoring requests' wire bytes (fpgascore._wire): the clients encode them without building
a message, so they are checked against protobuf's own serializer of the same message, against
the shared wire vectors, and as a real gRPC server receives them from both clients."""
from __future__ import annotations

import asyncio
import json
from concurrent import futures
from typing import List

import grpc
import numpy as np
import pytest

import fpgascore
from fpgascore import _tensors
from fpgascore._wire import PREDICT_METHOD, RequestEncoder, varint
from fake_server import scores_response
from conftest import VECTORS

pytestmark = pytest.mark.timeout(60)

SPEC = json.loads((VECTORS / "vectors.json").read_text())


def protobuf_bytes(tensor: fpgascore.TensorProto, model: str = fpgascore.MODEL_NAME, output_filter=(),
                   signature: str = fpgascore.SIGNATURE_NAME, input_name: str = fpgascore.INPUT_NAME) -> bytes:
    """What protobuf writes for the request the encoder encodes (the reference)."""
    return fpgascore.predict_request({input_name: tensor}, model, output_filter, signature).SerializeToString()


@pytest.mark.parametrize("value, encoded", [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"),
                                            (16383, "ff7f"), (16384, "808001"), (2**35, "808080808001")])
def test_varint(value, encoded):
    assert varint(value).hex() == encoded
    with pytest.raises(ValueError):
        varint(-1)


# Image sizes on both sides of each varint length boundary, and a real 150 KB JPEG's size.
@pytest.mark.parametrize("sizes", [[1], [127], [128], [16383, 16384], [150_000], [3, 200, 70_000, 1, 5, 9, 2, 4]])
def test_image_requests_are_the_bytes_protobuf_writes(sizes):
    rng = np.random.default_rng(len(sizes))
    images = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in sizes]
    encoder = RequestEncoder(fpgascore.MODEL_NAME, fpgascore.SIGNATURE_NAME, fpgascore.INPUT_NAME, ())
    assert encoder.images(images) == protobuf_bytes(fpgascore.image_tensor(images))


@pytest.mark.parametrize("shape", [(1, 224, 224, 3), (2, 224, 224, 3), (1,), (130, 1), (3, 20000)])
def test_float_requests_are_the_bytes_protobuf_writes(shape):
    values = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    values.flat[0] = np.nan  # sent as they are
    encoder = RequestEncoder(fpgascore.MODEL_NAME, fpgascore.SIGNATURE_NAME, fpgascore.INPUT_NAME, ())
    array, dims = _tensors.float_values(values)
    assert encoder.floats(array, dims) == protobuf_bytes(fpgascore.float_tensor(values))


def test_names_and_output_filter_of_any_length_are_encoded_as_protobuf_does():
    model, signature, input_name = "m" * 300, "sig-é", "x" * 130  # 2-byte lengths, UTF-8
    output_filter = ["features", "o" * 200]
    encoder = RequestEncoder(model, signature, input_name, output_filter)
    images = [b"\xff\xd8" * 70]
    assert encoder.images(images) == protobuf_bytes(fpgascore.image_tensor(images), model, output_filter, signature,
                                                    input_name)
    values = np.ones((1, 224, 224, 3), dtype=np.float32)
    assert encoder.floats(*_tensors.float_values(values)) == \
        protobuf_bytes(fpgascore.float_tensor(values), model, output_filter, signature, input_name)


def test_the_shared_wire_vectors():
    encoder = RequestEncoder(SPEC["model_name"], SPEC["signature_name"], SPEC["input_name"], ())
    images = [bytes.fromhex(h) for h in SPEC["images_hex"]]
    assert encoder.images(images) == (VECTORS / "predict_request_images.bin").read_bytes()
    values = np.array(SPEC["float_tensor"]["values"], dtype=np.float64).reshape(SPEC["float_tensor"]["shape"])
    assert encoder.floats(*_tensors.float_values(values)) == \
        (VECTORS / "predict_request_float_tensor.bin").read_bytes()


@pytest.fixture
def raw_server():
    """A gRPC server that keeps each Predict request's bytes as they arrived (no parsing) and
    answers scores for one row per image."""
    received: List[bytes] = []

    def predict(request: bytes, context: grpc.ServicerContext) -> bytes:
        received.append(request)
        rows = fpgascore.PredictRequest.FromString(request).inputs["images"].tensor_shape.dim[0].size
        return scores_response(rows)[0].SerializeToString()

    service, method = PREDICT_METHOD.lstrip("/").split("/")
    handler = grpc.method_handlers_generic_handler(service, {method: grpc.unary_unary_rpc_method_handler(predict)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, received
    finally:
        server.stop(None)


def test_both_clients_send_these_bytes_to_the_tf_serving_method(raw_server):
    assert PREDICT_METHOD == "/tensorflow.serving.PredictionService/Predict"
    port, received = raw_server
    images = [b"\xff\xd8 first", b"\xff\xd8 second" * 100]
    array = np.full((224, 224, 3), 0.25, dtype=np.float32)
    with fpgascore.PredictionClient("127.0.0.1", port, output_name="output_alias") as client:
        assert client.score_images(images).shape == (2, 1000)
        assert client.score_numpy_array(array).shape == (1000,)

    async def asynchronous() -> None:
        async with fpgascore.AsyncPredictionClient("127.0.0.1", port) as client:
            assert (await client.score_images(images)).shape == (2, 1000)
            assert (await client.score_numpy_array(array)).shape == (1000,)

    asyncio.run(asynchronous())
    expected = [protobuf_bytes(fpgascore.image_tensor(images)), protobuf_bytes(fpgascore.float_tensor(array[None]))]
    assert received == expected * 2
