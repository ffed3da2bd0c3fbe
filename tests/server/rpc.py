"""Raw-stub helpers for the server tests: they talk to the server without any client SDK,
so the server is tested on its own."""
from __future__ import annotations

import pathlib

from typing import Iterable, Iterator, Optional, Sequence, Tuple

import grpc
import numpy as np

from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGES = ROOT / "conformance" / "testdata" / "images"


def image(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


def decodable_images() -> Iterator[Tuple[str, np.ndarray]]:
    """(name, uint8 RGB pixels) of every test image the server decodes, in name order."""
    from fpgascore_emulator.decoding import ImageError, decode
    for path in sorted(IMAGES.iterdir()):
        try:
            yield path.name, decode(path.read_bytes())
        except ImageError:
            continue


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def shape(dims: Iterable[int]) -> tensor_pb2.TensorShapeProto:
    return tensor_pb2.TensorShapeProto(dim=[tensor_pb2.TensorShapeProto.Dim(size=d) for d in dims])


def image_request(images: Sequence[bytes], dims: Optional[Sequence[int]] = None,
                  input_name: str = "images") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "resnet50"
    tensor = request.inputs[input_name]
    tensor.dtype = tensor_pb2.DT_STRING
    tensor.tensor_shape.CopyFrom(shape(dims if dims is not None else [len(images)]))
    tensor.string_val.extend(images)
    return request


def float_request(values: np.ndarray, as_float_val: bool = False, dims=None) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    tensor = request.inputs["images"]
    tensor.dtype = tensor_pb2.DT_FLOAT
    tensor.tensor_shape.CopyFrom(shape(dims if dims is not None else values.shape))
    flat = np.ascontiguousarray(values, dtype="<f4").ravel()
    if as_float_val:
        tensor.float_val.extend(flat.tolist())
    else:
        tensor.tensor_content = flat.tobytes()
    return request


def decode(tensor: tensor_pb2.TensorProto) -> np.ndarray:
    dims = [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype="<f4").reshape(dims)
    return np.asarray(tensor.float_val, dtype=np.float32).reshape(dims)


class Caller:
    """Calls Predict on a channel and returns (response, trailing metadata) or raises."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def predict(self, request, metadata: Sequence[Tuple[str, str]] = (), timeout: float = 30.0):
        response, call = self.stub.Predict.with_call(request, metadata=list(metadata), timeout=timeout)
        return response, dict(call.trailing_metadata())

    def error(self, request, metadata: Sequence[Tuple[str, str]] = (), timeout: float = 30.0) -> grpc.RpcError:
        try:
            self.predict(request, metadata, timeout)
        except grpc.RpcError as error:
            return error
        raise AssertionError("the call succeeded but an error was expected")


def plaintext(target: str) -> Caller:
    return Caller(grpc.insecure_channel(target))


def secure(target: str, root_pem: pathlib.Path, server_name: Optional[str] = None) -> Caller:
    credentials = grpc.ssl_channel_credentials(root_certificates=root_pem.read_bytes())
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return Caller(grpc.secure_channel(target, credentials, options=options))


def trailing(error: grpc.RpcError) -> dict:
    return dict(error.trailing_metadata() or ())
