"""GetModelMetadata: the request, and the small typed result decoded from TF Serving's answer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Tuple

from ._errors import InternalError
from .v1 import model_metadata_pb2, tensor_pb2

__all__ = ["ModelMetadata", "TensorSpec", "metadata_request", "decode_metadata"]

SIGNATURE_DEF = "signature_def"
_SIGNATURE_DEF_MAP = "tensorflow.serving.SignatureDefMap"
# What a server's answer can put into an error message: a few names, each of bounded length.
_ECHO_CHARS = 100
_ECHO_NAMES = 5


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the model's signature.

    Attributes:
        name: the input/output name used in requests and responses (e.g. ``"images"``).
        dtype: the TensorFlow dtype name (e.g. ``"DT_STRING"``, ``"DT_FLOAT"``).
        shape: the dimensions, ``-1`` for a dimension of any size (the batch).
    """

    name: str
    dtype: str
    shape: Tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    """What ``model_metadata()`` returns: the served model and its signature.

    Attributes:
        model_name: the model the server answered for.
        version: its version (``None`` when the server did not say).
        signature_name: the signature described (the client's, ``"serving_default"`` by default).
        inputs: the signature's inputs, by name order.
        outputs: the signature's outputs, by name order.
    """

    model_name: str
    version: Optional[int]
    signature_name: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        """The input called ``name``; KeyError when the signature has none."""
        return _named(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        """The output called ``name``; KeyError when the signature has none."""
        return _named(self.outputs, name, "output")


def _named(specs: Tuple[TensorSpec, ...], name: str, kind: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise KeyError(f"the signature has no {kind} {name!r} ({kind}s: {', '.join(s.name for s in specs) or 'none'})")


def metadata_request(model_name: str) -> model_metadata_pb2.GetModelMetadataRequest:
    request = model_metadata_pb2.GetModelMetadataRequest(metadata_field=[SIGNATURE_DEF])
    request.model_spec.name = model_name
    return request


def decode_metadata(response: model_metadata_pb2.GetModelMetadataResponse, signature_name: str) -> ModelMetadata:
    """The signature ``signature_name`` of the response; an INTERNAL-coded error naming what
    was wrong when the response does not carry it."""
    packed = response.metadata.get(SIGNATURE_DEF)
    if packed is None:
        raise InternalError(f"model metadata has no {SIGNATURE_DEF!r} (fields: {_listing(response.metadata)})")
    if packed.type_url.rpartition("/")[2] != _SIGNATURE_DEF_MAP:
        raise InternalError(f"model metadata {SIGNATURE_DEF!r} is a {_short(packed.type_url)!r}, "
                            f"expected {_SIGNATURE_DEF_MAP}")
    signatures = model_metadata_pb2.SignatureDefMap()
    try:
        signatures.ParseFromString(packed.value)
    except Exception as exc:  # google.protobuf.message.DecodeError
        raise InternalError(f"model metadata {SIGNATURE_DEF!r} does not parse: {exc}") from None
    if signature_name not in signatures.signature_def:
        raise InternalError(f"model metadata has no signature {signature_name!r} "
                            f"(signatures: {_listing(signatures.signature_def)})")
    signature = signatures.signature_def[signature_name]
    spec = response.model_spec
    return ModelMetadata(model_name=spec.name, version=spec.version.value if spec.HasField("version") else None,
                         signature_name=signature_name, inputs=_specs(signature.inputs),
                         outputs=_specs(signature.outputs))


def _specs(infos: Mapping[str, model_metadata_pb2.TensorInfo]) -> Tuple[TensorSpec, ...]:
    return tuple(TensorSpec(name=name, dtype=_dtype_name(info.dtype),
                            shape=tuple(dim.size for dim in info.tensor_shape.dim))
                 for name, info in sorted(infos.items()))


def _short(text: str) -> str:
    return text if len(text) <= _ECHO_CHARS else f"{text[:_ECHO_CHARS]}… ({len(text) - _ECHO_CHARS} more characters)"


def _listing(names: Iterable[str]) -> str:
    """Sorted names for a message: the first few, shortened, then how many more."""
    ordered = sorted(names)
    shown = ", ".join(_short(name) for name in ordered[:_ECHO_NAMES])
    more = f" … ({len(ordered) - _ECHO_NAMES} more)" if len(ordered) > _ECHO_NAMES else ""
    return (shown + more) or "none"


def _dtype_name(value: int) -> str:
    try:
        name: str = tensor_pb2.DataType.Name(value)
        return name
    except ValueError:
        return f"DT_UNKNOWN_{value}"
