"""The one model the server serves, as TensorFlow Serving names and describes a servable.

TF Serving's rules, which other people's clients were written against:
- an empty ``model_spec.name`` (or no ``model_spec`` at all) is the default model;
- a name (or a version) the server does not serve is NOT_FOUND,
  ``Servable not found for request: Latest(<name>)`` / ``Specific(<name>, <version>)``;
- an empty ``signature_name`` is ``serving_default``; another name the model lacks is
  INVALID_ARGUMENT;
- the response's ``model_spec`` carries the served name, version and signature;
- GetModelMetadata needs ``metadata_field: ["signature_def"]`` and answers the signatures as
  an ``Any`` of ``tensorflow.serving.SignatureDefMap``.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from fpgascore.v1 import model_metadata_pb2, model_status_pb2, predict_pb2, tensor_pb2

from .limits import bounded, bounded_list
from .network import CLASSES, FEATURES

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
SIGNATURE_DEF_FIELD = "signature_def"
SIGNATURE_DEF_MAP_TYPE_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"


class NotFound(LookupError):
    """The request names a model or version the server does not serve."""


class BadSpec(ValueError):
    """The request names a signature or metadata field the model does not have."""


@dataclasses.dataclass(frozen=True)
class Servable:
    name: str
    version: int
    signature_name: str
    input_name: str
    output_name: str
    features_name: str

    def check(self, spec: predict_pb2.ModelSpec) -> None:
        """Raises NotFound unless ``spec`` names this model (or nothing) and its version."""
        name = spec.name or self.name
        asked_version = spec.version.value if spec.HasField("version") else None
        if name != self.name or (asked_version is not None and asked_version != self.version):
            asked = (f"Latest({bounded(name)})" if asked_version is None
                     else f"Specific({bounded(name)}, {asked_version})")
            raise NotFound(f"Servable not found for request: {asked}; this server serves "
                           f"'{self.name}' version {self.version}")

    def check_signature(self, spec: predict_pb2.ModelSpec) -> None:
        signature = spec.signature_name or DEFAULT_SIGNATURE
        if signature != self.signature_name:
            raise BadSpec(f"Serving signature name: \"{bounded(signature)}\" not found in signature def; "
                          f"the model has \"{self.signature_name}\"")

    def answer_spec(self, spec: predict_pb2.ModelSpec, with_signature: bool = True) -> None:
        """Fills a response's model_spec: the served name and version (and signature)."""
        spec.name = self.name
        spec.version.value = self.version
        if with_signature:
            spec.signature_name = self.signature_name

    def metadata(self, fields: Sequence[str]) -> model_metadata_pb2.GetModelMetadataResponse:
        if not fields:
            raise BadSpec("GetModelMetadataRequest must specify at least one metadata_field; "
                          f"supported: \"{SIGNATURE_DEF_FIELD}\"")
        unknown = sorted(set(fields) - {SIGNATURE_DEF_FIELD})
        if unknown:
            raise BadSpec(f"Metadata field {bounded_list(unknown)} is not supported; "
                          f"supported: \"{SIGNATURE_DEF_FIELD}\"")
        response = model_metadata_pb2.GetModelMetadataResponse()
        self.answer_spec(response.model_spec, with_signature=False)
        entry = response.metadata[SIGNATURE_DEF_FIELD]
        entry.type_url = SIGNATURE_DEF_MAP_TYPE_URL
        entry.value = self.signature_def_map().SerializeToString(deterministic=True)
        return response

    def signature_def_map(self) -> model_metadata_pb2.SignatureDefMap:
        signatures = model_metadata_pb2.SignatureDefMap()
        signature = signatures.signature_def[self.signature_name]
        signature.method_name = PREDICT_METHOD
        _tensor_info(signature.inputs[self.input_name], self.input_name, tensor_pb2.DT_STRING, (-1,))
        _tensor_info(signature.outputs[self.output_name], self.output_name, tensor_pb2.DT_FLOAT, (-1, CLASSES))
        _tensor_info(signature.outputs[self.features_name], self.features_name, tensor_pb2.DT_FLOAT,
                     (-1, FEATURES))
        return signatures

    def status(self, spec: predict_pb2.ModelSpec) -> model_status_pb2.GetModelStatusResponse:
        self.check(spec)
        response = model_status_pb2.GetModelStatusResponse()
        version = response.model_version_status.add()
        version.version = self.version
        version.state = model_status_pb2.ModelVersionStatus.AVAILABLE
        version.status.error_code = 0
        return response


def _tensor_info(info: model_metadata_pb2.TensorInfo, name: str, dtype: tensor_pb2.DataType,
                 shape: Sequence[int]) -> None:
    info.name = f"{name}:0"
    info.dtype = dtype
    info.tensor_shape.dim.extend(tensor_pb2.TensorShapeProto.Dim(size=size) for size in shape)
