"""A scoring call's ``PredictRequest``, encoded straight into its wire bytes.

The scoring methods send one request shape: the client's model spec, one input tensor (the
images as ``DT_STRING [N]``, or float32 values in ``tensor_content``) and the output filter.
Building that message with the protobuf API copies every image into the message and then
again into the serialized bytes, and costs a few dozen Python-level calls; here the bytes are
joined once, from the image buffers themselves. The result is byte for byte what protobuf
writes for the same message (``predict_request(...).SerializeToString()``: fields in number
order, the map entry's key then its value), which the wire vectors and the tests check.
The constant parts (model spec, input name, output filter) are encoded once per client, by
protobuf itself.
"""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

from .v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2

__all__ = ["PREDICT_METHOD", "RequestEncoder", "varint"]


class _MethodPaths:
    """Stands in for a channel to read the generated stub's method paths (no path typed twice)."""

    def unary_unary(self, path: str, **_: object) -> str:
        return path


# The Predict method's path, as the generated stub calls it; the clients call it with these bytes.
PREDICT_METHOD: str = prediction_service_pb2_grpc.PredictionServiceStub(_MethodPaths()).Predict

# Field tags (field number << 3 | wire type 2, length-delimited; wire type 0, varint).
_INPUTS = b"\x12"          # PredictRequest.inputs = 2 (a map entry)
_ENTRY_KEY = b"\x0a"       # map entry key = 1
_ENTRY_VALUE = b"\x12"     # map entry value = 2
_DTYPE = b"\x08"           # TensorProto.dtype = 1
_SHAPE = b"\x12"           # TensorProto.tensor_shape = 2
_CONTENT = b"\x22"         # TensorProto.tensor_content = 4
_STRING_VAL = b"\x42"      # TensorProto.string_val = 8
_DIM = b"\x12"             # TensorShapeProto.dim = 2
_DIM_SIZE = b"\x08"        # TensorShapeProto.Dim.size = 1


def varint(value: int) -> bytes:
    """The base-128 varint of a non-negative integer (protobuf's encoding of lengths and sizes)."""
    if value < 0:
        raise ValueError(f"a varint here is never negative, not {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _shape(dims: Sequence[int]) -> bytes:
    """``tensor_shape`` (field and value) of a tensor with these positive dimensions."""
    dims_bytes = []
    for d in dims:
        dim = _DIM_SIZE + varint(d)  # a Dim message with its size
        dims_bytes.append(_DIM + varint(len(dim)) + dim)
    inner = b"".join(dims_bytes)
    return _SHAPE + varint(len(inner)) + inner


class RequestEncoder:
    """Encodes the scoring requests of one client: ``images`` and ``floats`` give the bytes of
    ``PredictRequest(model_spec, inputs={input_name: tensor}, output_filter)``."""

    def __init__(self, model_name: str, signature_name: str, input_name: str, output_filter: Sequence[str]) -> None:
        head = predict_pb2.PredictRequest()
        head.model_spec.name = model_name
        head.model_spec.signature_name = signature_name
        self._head: bytes = head.SerializeToString()  # field 1
        tail = predict_pb2.PredictRequest()
        tail.output_filter.extend(output_filter)
        self._tail: bytes = tail.SerializeToString()  # field 3
        key = input_name.encode("utf-8")
        self._key = _ENTRY_KEY + varint(len(key)) + key
        self._string_dtype = _DTYPE + varint(tensor_pb2.DT_STRING)
        self._float_dtype = _DTYPE + varint(tensor_pb2.DT_FLOAT)

    def images(self, items: Sequence[bytes]) -> bytes:
        """The request scoring these images: ``DT_STRING [len(items)]``, each image's bytes one element."""
        parts: List[Any] = [self._string_dtype, _shape((len(items),))]
        for item in items:
            parts += (_STRING_VAL, varint(len(item)), item)
        return self._request(parts)

    def floats(self, values: np.ndarray[Any, Any], dims: Sequence[int]) -> bytes:
        """The request scoring this ``DT_FLOAT`` tensor: ``values`` a C-contiguous little-endian
        float32 array (its buffer is copied once, into the request), ``dims`` its positive shape."""
        content = values.data.cast("B")  # the array's own buffer, as bytes: no copy yet
        return self._request([self._float_dtype, _shape(dims), _CONTENT, varint(len(content)), content])

    def _request(self, tensor: List[Any]) -> bytes:
        tensor_size = sum(len(part) for part in tensor)
        value = _ENTRY_VALUE + varint(tensor_size)
        entry_size = len(self._key) + len(value) + tensor_size
        return b"".join([self._head, _INPUTS, varint(entry_size), self._key, value, *tensor, self._tail])
