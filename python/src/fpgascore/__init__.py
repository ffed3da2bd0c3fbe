"""fpgascore: the Python client of the FPGA-accelerated ResNet-50 image scoring service.

    from fpgascore import PredictionClient, top_k
    client = PredictionClient(host, port, use_ssl=True, access_token=key)
    scores = client.score_image("cat.jpg")       # numpy float32 [1000]
    for p in top_k(scores, 5):
        print(p.class_id, p.label, p.score)

The behaviour (retries, TLS, keys, errors) follows conformance/CLIENT_SPEC.md.
``DeploymentClient`` (fpgascore.deployment) manages services: create, keys, update, delete.
"""
from ._base import CallInfo
from ._channel import DEFAULT_MAX_RESPONSE_BYTES
from ._errors import (AlreadyExistsError, AuthenticationError, CancelledError, DeadlineExceededError,
                      FailedPreconditionError, InsecureKeyError, InternalError, InvalidInputError, InvalidKeyError,
                      ModelNotFoundError, NonFiniteScoreError, NotFoundError, PermissionDeniedError,
                      ResourceExhaustedError, ScoringError, UnavailableError, UnimplementedError,
                      UntrustedCertificateError)
from ._labels import Prediction, label, labels, top_k
from ._metadata import ModelMetadata, TensorSpec
from ._retry import RetryPolicy
from ._tensors import (IMAGE_SHAPE, INPUT_NAME, MODEL_NAME, NUM_CLASSES, OUTPUT_NAME, SIGNATURE_NAME,
                       decode_scores, float_tensor, image_tensor, predict_request)
from .aio import AsyncPredictionClient
from .client import PredictionClient
from .deployment import (AsyncDeploymentClient, AuthKeys, DeploymentClient, KeyType, Model, ReplicaHealth,
                         ReplicaStatus, Service, ServiceState)
from .v1.predict_pb2 import ModelSpec, PredictRequest, PredictResponse
from .v1.tensor_pb2 import DataType, TensorProto, TensorShapeProto

from ._version import __version__  # generated from the repository's VERSION (scripts/generate.sh)

__all__ = [
    "PredictionClient", "AsyncPredictionClient", "RetryPolicy",
    "DeploymentClient", "AsyncDeploymentClient", "Model", "Service", "ServiceState", "ReplicaStatus", "ReplicaHealth",
    "AuthKeys", "KeyType", "CallInfo", "ModelMetadata", "TensorSpec",
    "Prediction", "top_k", "labels", "label",
    "image_tensor", "float_tensor", "predict_request", "decode_scores",
    "PredictRequest", "PredictResponse", "ModelSpec", "TensorProto", "TensorShapeProto", "DataType",
    "MODEL_NAME", "SIGNATURE_NAME", "INPUT_NAME", "OUTPUT_NAME", "NUM_CLASSES", "IMAGE_SHAPE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ScoringError", "InvalidInputError", "AuthenticationError", "PermissionDeniedError",
    "UnavailableError", "UntrustedCertificateError", "DeadlineExceededError", "ResourceExhaustedError",
    "FailedPreconditionError", "InsecureKeyError", "InternalError", "NonFiniteScoreError", "CancelledError",
    "ModelNotFoundError", "InvalidKeyError", "NotFoundError", "AlreadyExistsError", "UnimplementedError",
    "__version__",
]
