"""The calls the server answers, by method path, and the event name each one's log line and
metrics carry: one table for the admission interceptor, the servicers and the metrics."""
from __future__ import annotations

from typing import Dict

PREDICT = "predict"
GET_MODEL_METADATA = "get_model_metadata"
GET_MODEL_STATUS = "get_model_status"

# These need the key when auth is on.
BY_METHOD: Dict[str, str] = {
    "/tensorflow.serving.PredictionService/Predict": PREDICT,
    "/tensorflow.serving.PredictionService/GetModelMetadata": GET_MODEL_METADATA,
    "/tensorflow.serving.ModelService/GetModelStatus": GET_MODEL_STATUS,
}
