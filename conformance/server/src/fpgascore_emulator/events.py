"""The calls the server answers, by method path, and the event name each one's log line and
metrics carry: one table for the interceptors, the servicers and the metrics."""
from __future__ import annotations

from typing import Dict

PREDICT = "predict"
GET_MODEL_METADATA = "get_model_metadata"
GET_MODEL_STATUS = "get_model_status"
HEALTH_CHECK = "health_check"
HEALTH_WATCH = "health_watch"

# These need the key when auth is on.
KEYED: Dict[str, str] = {
    "/tensorflow.serving.PredictionService/Predict": PREDICT,
    "/tensorflow.serving.PredictionService/GetModelMetadata": GET_MODEL_METADATA,
    "/tensorflow.serving.ModelService/GetModelStatus": GET_MODEL_STATUS,
}
# These never do: load balancers and container engines probe them without one.
OPEN: Dict[str, str] = {
    "/grpc.health.v1.Health/Check": HEALTH_CHECK,
    "/grpc.health.v1.Health/Watch": HEALTH_WATCH,
}
BY_METHOD: Dict[str, str] = {**KEYED, **OPEN}
