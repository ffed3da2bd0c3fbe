"""Reading a PredictRequest's inputs and writing the response's outputs."""
from __future__ import annotations

from typing import Any, Iterable, List, Sequence

import numpy as np

from fpgascore.v1 import tensor_pb2

from .network import IMAGE_SIZE

FLOAT_IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)
_FLOATS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE * 3


class InputError(ValueError):
    """The request's inputs break the contract; the message says exactly how."""


def dims(tensor: tensor_pb2.TensorProto) -> List[int]:
    return [dim.size for dim in tensor.tensor_shape.dim]


def shape_text(shape: Sequence[int], limit: int = 8) -> str:
    """A shape for a message: ``[1, 224, 224, 3]``, or its first dimensions and how many more."""
    if len(shape) <= limit:
        return "[" + ", ".join(str(size) for size in shape) + "]"
    return "[" + ", ".join(str(size) for size in shape[:limit]) + f", … ({len(shape) - limit} more dimensions)]"


def _check_dims(name: str, shape: List[int]) -> None:
    if any(size < 0 for size in shape):
        raise InputError(f"input '{name}' has a negative dimension in shape {shape_text(shape)}")


def dtype_name(value: int) -> str:
    try:
        name: str = tensor_pb2.DataType.Name(value)
        return name
    except ValueError:
        return f"unknown dtype {value}"


def image_bytes(tensor: tensor_pb2.TensorProto, name: str, max_batch: int) -> Sequence[bytes]:
    """The images of a DT_STRING [N] tensor."""
    shape = dims(tensor)
    _check_dims(name, shape)
    if tensor.tensor_shape.unknown_rank or len(shape) != 1:
        raise InputError(f"input '{name}' (DT_STRING) must have shape [N], got {shape_text(shape)}")
    count = len(tensor.string_val)
    if shape[0] != count:
        raise InputError(f"input '{name}' declares shape [{shape[0]}] but holds {count} images")
    _check_batch(name, count, max_batch)
    images: Sequence[bytes] = tensor.string_val
    return images


def float_batch_size(tensor: tensor_pb2.TensorProto, name: str, max_batch: int) -> int:
    """N of a DT_FLOAT [N, 224, 224, 3] tensor, after checking the shape."""
    shape = dims(tensor)
    _check_dims(name, shape)
    if tensor.tensor_shape.unknown_rank or len(shape) != 4 or tuple(shape[1:]) != FLOAT_IMAGE_SHAPE:
        raise InputError(f"input '{name}' (DT_FLOAT) must have shape [N, 224, 224, 3], got {shape_text(shape)}")
    _check_batch(name, shape[0], max_batch)
    return shape[0]


def float_images(tensor: tensor_pb2.TensorProto, name: str, max_batch: int) -> np.ndarray[Any, Any]:
    """The [N, 224, 224, 3] float32 array of a DT_FLOAT tensor (tensor_content or float_val)."""
    count = float_batch_size(tensor, name, max_batch)
    shape = dims(tensor)
    expected = count * _FLOATS_PER_IMAGE
    if tensor.tensor_content and len(tensor.float_val):
        raise InputError(f"input '{name}' sets both tensor_content and float_val; use one")
    if tensor.tensor_content:
        if len(tensor.tensor_content) != expected * 4:
            raise InputError(f"input '{name}' tensor_content has {len(tensor.tensor_content)} bytes; "
                             f"shape {shape_text(shape)} needs {expected * 4}")
        values = np.frombuffer(tensor.tensor_content, dtype="<f4")
    else:
        if len(tensor.float_val) != expected:
            raise InputError(f"input '{name}' float_val has {len(tensor.float_val)} values; "
                             f"shape {shape_text(shape)} needs {expected}")
        values = np.asarray(tensor.float_val, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise InputError(f"input '{name}' holds NaN or infinite values")
    return values.astype(np.float32, copy=False).reshape(count, *FLOAT_IMAGE_SHAPE)


def _check_batch(name: str, count: int, max_batch: int) -> None:
    if count < 1:
        raise InputError(f"input '{name}' is an empty batch; send at least one image")
    if count > max_batch:
        raise InputError(f"input '{name}' has {count} images; at most {max_batch} per request")


_FLOAT_VAL_TAG = bytes([5 << 3 | 2])  # TensorProto.float_val = 5, packed: length-delimited


def float_tensor(values: np.ndarray[Any, Any], as_float_val: bool) -> tensor_pb2.TensorProto:
    """A DT_FLOAT tensor of ``values``: in packed ``float_val`` (TF Serving's default) or in
    ``tensor_content``. Packed float_val on the wire is the same little-endian bytes as
    tensor_content behind another field tag, so it is merged in from those bytes: the same
    message as ``float_val.extend(...)``, a tenth of the CPU (no Python float per value)."""
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    tensor.tensor_shape.dim.extend(tensor_pb2.TensorShapeProto.Dim(size=size) for size in values.shape)
    raw = np.ascontiguousarray(values, dtype="<f4").tobytes()
    if as_float_val:
        tensor.MergeFromString(_FLOAT_VAL_TAG + _varint(len(raw)) + raw)
    else:
        tensor.tensor_content = raw
    return tensor


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def unknown_names(names: Iterable[str], allowed: Iterable[str]) -> List[str]:
    allowed_set = set(allowed)
    return sorted(name for name in names if name not in allowed_set)


__all__ = ["InputError", "image_bytes", "float_images", "float_batch_size", "float_tensor", "dims", "dtype_name",
           "unknown_names"]
