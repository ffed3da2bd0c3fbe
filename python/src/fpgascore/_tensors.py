"""Building request tensors and decoding response tensors (no per-float Python loops)."""
from __future__ import annotations

import functools
import io
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._errors import InternalError, InvalidInputError, NonFiniteScoreError
from .v1 import predict_pb2, tensor_pb2

__all__ = [
    "ImageInput", "MODEL_NAME", "SIGNATURE_NAME", "INPUT_NAME", "OUTPUT_NAME", "NUM_CLASSES",
    "IMAGE_SHAPE", "read_image", "image_list", "image_tensor", "float_values", "float_tensor",
    "image_array_values", "image_array_tensor",
    "predict_request", "decode_scores",
]

MODEL_NAME = "resnet50"
SIGNATURE_NAME = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "output_alias"
NUM_CLASSES = 1000
IMAGE_SHAPE = (224, 224, 3)

ImageInput = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO, io.IOBase]

_LE_FLOAT32 = np.dtype("<f4")
_LITTLE_ENDIAN = sys.byteorder == "little"


def read_image(image: ImageInput) -> bytes:
    """The bytes of one image: given as bytes, a file path, or a binary file object."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        source = "image bytes"
    elif isinstance(image, (str, os.PathLike)):
        source = f"image file {os.fspath(image)!r}"
        try:
            data = Path(image).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read {source}: {exc.strerror or exc}") from None
    elif hasattr(image, "read"):
        source = "image file object"
        data = image.read()
        if isinstance(data, str):
            raise InvalidInputError("image file objects must be opened in binary mode ('rb')")
        data = bytes(data)
    else:
        raise InvalidInputError(f"an image is bytes, a path or a binary file, not {type(image).__name__}")
    if not data:
        raise InvalidInputError(f"empty image: {source} has no bytes")
    return data


def _set_shape(tensor: tensor_pb2.TensorProto, dims: Iterable[int]) -> None:
    """Replaces the tensor's shape with ``dims``, in place (no message built and copied)."""
    if tensor.HasField("tensor_shape"):
        tensor.ClearField("tensor_shape")
    shape = tensor.tensor_shape.dim
    for d in dims:
        shape.add(size=int(d))


def image_list(images: Sequence[ImageInput]) -> List[bytes]:
    """The bytes of each image of a batch (``score_images``' argument), checked: a list of at
    least one image, each bytes, a path or a binary file."""
    if isinstance(images, (bytes, bytearray, memoryview, str, os.PathLike)) or hasattr(images, "read"):
        raise InvalidInputError("score_images takes a list of images; use score_image for one")
    items = [read_image(image) for image in images]
    if not items:
        raise InvalidInputError("empty batch: at least one image is needed")
    return items


def image_tensor(images: Sequence[ImageInput],
                 out: Optional[tensor_pb2.TensorProto] = None) -> tensor_pb2.TensorProto:
    """``DT_STRING [N]``: one element per image, the file's bytes untouched.

    ``out``: a tensor to fill in place (e.g. ``request.inputs["images"]``, saving a copy).
    """
    items = image_list(images)
    tensor = out if out is not None else tensor_pb2.TensorProto()
    tensor.dtype = tensor_pb2.DT_STRING
    _set_shape(tensor, (len(items),))
    tensor.string_val.extend(items)
    return tensor


def _float32(values: object) -> np.ndarray[Any, Any]:
    array = np.asarray(values)
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise InvalidInputError(f"a float tensor needs real numbers, not dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=_LE_FLOAT32)


def float_values(values: object, shape: Optional[Sequence[int]] = None) -> Tuple[np.ndarray[Any, Any], List[int]]:
    """``values`` as a C-contiguous little-endian float32 array (no copy when it is one) and the
    tensor's dimensions, checked as :func:`float_tensor` describes."""
    array = _float32(values)
    dims = [int(d) for d in (array.shape if shape is None else shape)]
    if not dims or any(d <= 0 for d in dims):
        raise InvalidInputError(f"tensor shape {dims} must have positive dimensions")
    if math.prod(dims) != array.size:
        raise InvalidInputError(f"{array.size} values do not fill a tensor of shape {dims}")
    return array, dims


def float_tensor(values: object, shape: Optional[Sequence[int]] = None,
                 out: Optional[tensor_pb2.TensorProto] = None) -> tensor_pb2.TensorProto:
    """``DT_FLOAT`` with the values as little-endian float32 in ``tensor_content``.

    ``shape`` defaults to the array's own; its product must equal the number of values and
    every dimension must be positive. Non-finite values are sent as they are. ``out``: a
    tensor to fill in place.
    """
    array, dims = float_values(values, shape)
    tensor = out if out is not None else tensor_pb2.TensorProto()
    tensor.dtype = tensor_pb2.DT_FLOAT
    _set_shape(tensor, dims)
    tensor.tensor_content = array.tobytes()
    return tensor


def image_array_values(array: object) -> Tuple[np.ndarray[Any, Any], List[int]]:
    """A preprocessed image ``[224,224,3]`` (sent as ``[1,224,224,3]``) or batch ``[N,224,224,3]``,
    checked: its float32 values and the dimensions sent (:func:`float_values`)."""
    if not isinstance(array, np.ndarray):
        raise InvalidInputError(f"score_numpy_array takes a numpy array, not {type(array).__name__}")
    shape = tuple(int(d) for d in array.shape)
    if shape == IMAGE_SHAPE:
        shape = (1,) + shape
    if len(shape) != 4 or shape[1:] != IMAGE_SHAPE or shape[0] <= 0:
        raise InvalidInputError(f"array shape {tuple(array.shape)} is neither [224,224,3] nor [N,224,224,3]")
    return float_values(array, shape)


def image_array_tensor(array: object, out: Optional[tensor_pb2.TensorProto] = None) -> tensor_pb2.TensorProto:
    """A preprocessed image ``[224,224,3]`` (sent as ``[1,224,224,3]``) or batch ``[N,224,224,3]``."""
    values, dims = image_array_values(array)
    return float_tensor(values, dims, out)


def predict_request(inputs: Mapping[str, tensor_pb2.TensorProto], model_name: str = MODEL_NAME,
                    output_filter: Sequence[str] = (),
                    signature_name: str = SIGNATURE_NAME) -> predict_pb2.PredictRequest:
    """A PredictRequest for the signature ``signature_name`` (``serving_default``) of ``model_name``."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, tensor in inputs.items():
        request.inputs[name].CopyFrom(tensor)
    if output_filter:
        request.output_filter.extend(output_filter)
    return request


def decode_scores(response: predict_pb2.PredictResponse, output_name: str = OUTPUT_NAME,
                  rows: Optional[int] = None, columns: Optional[int] = None) -> np.ndarray[Any, Any]:
    """The float32 output ``output_name`` as an array of its own shape.

    Reads ``tensor_content`` (little-endian float32) or ``float_val``, whichever the server
    used. With ``rows``/``columns`` the result must be ``[rows, columns]``. Anything else
    raises an INTERNAL-coded :class:`InternalError` naming what was wrong; a NaN or infinite
    score raises :class:`NonFiniteScoreError` (INTERNAL) naming the first one's image and
    class. Negative or unnormalised finite scores are returned as the server sent them.
    """
    tensor = response.outputs.get(output_name)
    if tensor is None:
        present = ", ".join(sorted(response.outputs)) or "none"
        raise InternalError(f"response has no output {output_name!r} (outputs: {present})")
    if tensor.dtype not in (tensor_pb2.DT_FLOAT, tensor_pb2.DT_INVALID):
        raise InternalError(f"output {output_name!r} has dtype "
                            f"{tensor_pb2.DataType.Name(tensor.dtype)}, expected DT_FLOAT")
    content = tensor.tensor_content  # each read of a bytes field makes a new copy: read it once
    if content:
        if len(content) % 4:
            raise InternalError(f"output {output_name!r} tensor_content is {len(content)} bytes, "
                                "not a whole number of float32")
        values = np.frombuffer(content, dtype=_LE_FLOAT32)
        if not _LITTLE_ENDIAN:
            values = values.astype(np.float32)
    else:
        values = np.array(tensor.float_val, dtype=np.float32)
    if rows is not None and columns is not None:
        expected = [rows, columns]
        if values.size != rows * columns or not _shape_is_or_unset(tensor, rows, columns):
            raise InternalError(f"output {output_name!r} has {values.size} values of shape {_dims(tensor)}, "
                                f"expected shape {expected}")
        _check_finite(values, output_name, columns)
        return values.reshape(expected)
    dims = _dims(tensor)
    if not dims:
        if values.size == 0:
            raise InternalError(f"output {output_name!r} has no values")
        _check_finite(values, output_name, values.size)
        return values
    if any(d < 0 for d in dims) or math.prod(dims) != values.size:
        raise InternalError(f"output {output_name!r} has {values.size} values, which do not fit its shape {dims}")
    _check_finite(values, output_name, dims[-1])
    return values.reshape(dims)


def _check_finite(values: np.ndarray[Any, Any], output_name: str, columns: int) -> None:
    """Raises NonFiniteScoreError for the first NaN or infinite value of the flat ``values``
    (``columns`` scores per image): the image and class it belongs to, and how many there are."""
    # The common case at the cost of one dot product: the sum of the squares is finite only when
    # every value is (a NaN or an infinity makes it NaN or +Inf). Huge finite values can overflow
    # it to +Inf; the element-wise check below then finds them all finite.
    if math.isfinite(np.dot(values, values)):
        return
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = np.flatnonzero(~finite)
    first = int(bad[0])
    value = float(values[first])
    kind = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    image, class_index = divmod(first, columns) if columns else (0, first)
    raise NonFiniteScoreError(f"output {output_name!r} has a non-finite score ({kind}) at image {image}, "
                              f"class {class_index} ({bad.size} of {values.size} scores are not finite)",
                              image_index=image, class_index=class_index)


def _dims(tensor: tensor_pb2.TensorProto) -> List[int]:
    return [d.size for d in tensor.tensor_shape.dim]


@functools.lru_cache(maxsize=64)
def _encoded_shape(rows: int, columns: int) -> bytes:
    dims = [tensor_pb2.TensorShapeProto.Dim(size=rows), tensor_pb2.TensorShapeProto.Dim(size=columns)]
    encoded: bytes = tensor_pb2.TensorShapeProto(dim=dims).SerializeToString()
    return encoded


def _shape_is_or_unset(tensor: tensor_pb2.TensorProto, rows: int, columns: int) -> bool:
    """Whether the tensor's shape is ``[rows, columns]`` or has no dimensions. The encoded
    shape is compared first: this runs on every call, and reading a fresh response's
    dimensions makes a Python object for each."""
    encoded = tensor.tensor_shape.SerializeToString()
    if not encoded or encoded == _encoded_shape(rows, columns):
        return True
    dims = _dims(tensor)
    return not dims or dims == [rows, columns]
