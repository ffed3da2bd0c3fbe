"""The blocking client: ``PredictionClient``."""
from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Sequence, Union

import grpc
import numpy as np

from ._base import CallAttempts, CallInfo, ClientBase, Prepared, has_request_id, output_filter_list
from ._config import CallMetadata
from ._channel import create_channel
from ._errors import ScoringError
from ._metadata import ModelMetadata
from ._tensors import ImageInput
from .v1 import health_service_pb2_grpc, model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc, tensor_pb2

__all__ = ["PredictionClient"]

# A request: a message, or the wire bytes of a scoring request (_wire.RequestEncoder).
Request = Union[bytes, predict_pb2.PredictRequest, model_metadata_pb2.GetModelMetadataRequest]


class PredictionClient(ClientBase):
    """Scores images with the fpgascore service over one long-lived gRPC channel.

    >>> client = PredictionClient(host, port, use_ssl=True, access_token=key)
    >>> scores = client.score_image("cat.jpg")        # ndarray [1000]

    Options (keywords): ``secondary_access_token``, ``auth_scheme`` ("raw" | "bearer"),
    ``allow_insecure_key``, ``root_certificates`` (PEM bytes/text or a path),
    ``server_name_override``, ``timeout`` (s, default 10), ``retry_policy``, ``metadata``,
    ``model_name``, ``signature_name``, ``input_name``, ``output_name``, ``channel_options``,
    ``max_response_bytes`` (the largest response accepted, default 16 MiB; a larger one fails
    with :class:`ResourceExhaustedError`).
    Thread-safe; use it as a context manager or call :meth:`close`.
    """

    def _connect(self) -> None:
        config = self._config
        self._channel = create_channel(config.target, bool(config.use_ssl), config.root_certificates,
                                       config.server_name_override, config.channel_options,
                                       config.max_response_bytes)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._predict = stub.Predict
        self._predict_encoded = self._encoded_predict(self._channel)
        self._get_model_metadata = stub.GetModelMetadata
        self._check_health = health_service_pb2_grpc.HealthStub(self._channel).Check

    # -- scoring --------------------------------------------------------------------------
    def score_image(self, image: ImageInput, *, timeout: Optional[float] = None,
                    metadata: Optional[CallMetadata] = None,
                    call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores one image (path, bytes or binary file): float32 ``[1000]``."""
        return self._score(self._images([image], squeeze=True), timeout, metadata, call_info)

    def score_images(self, images: Sequence[ImageInput], *, timeout: Optional[float] = None,
                     metadata: Optional[CallMetadata] = None,
                     call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores a batch of images in one call: float32 ``[N, 1000]``."""
        return self._score(self._images(images, squeeze=False), timeout, metadata, call_info)

    def score_numpy_array(self, array: np.ndarray[Any, Any], *, timeout: Optional[float] = None,
                          metadata: Optional[CallMetadata] = None,
                          call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores preprocessed float images: ``[224,224,3]`` → ``[1000]``, ``[N,224,224,3]`` → ``[N,1000]``."""
        return self._score(self._array(array), timeout, metadata, call_info)

    def predict(self, inputs: Mapping[str, tensor_pb2.TensorProto], output_filter: Sequence[str] = (), *,
                timeout: Optional[float] = None, metadata: Optional[CallMetadata] = None,
                call_info: Optional[CallInfo] = None) -> predict_pb2.PredictResponse:
        """The low-level call: any input tensors, the raw ``PredictResponse``."""
        request = self._request(inputs, output_filter_list(output_filter))
        response: predict_pb2.PredictResponse = self._call(self._predict, request, timeout, metadata, call_info)
        return response

    def model_metadata(self, *, timeout: Optional[float] = None, metadata: Optional[CallMetadata] = None,
                       call_info: Optional[CallInfo] = None) -> ModelMetadata:
        """The served model's name, version and signature (input and output names, dtypes,
        shapes), from TF Serving's ``GetModelMetadata``; with the same deadline, retries and
        keys as a scoring call."""
        info = call_info if call_info is not None else CallInfo()
        response = self._call(self._get_model_metadata, self._metadata_request(), timeout, metadata, info)
        return self._decode_metadata(response, info)

    def _score(self, prepared: Prepared, timeout: Optional[float], metadata: Optional[CallMetadata],
               call_info: Optional[CallInfo]) -> np.ndarray[Any, Any]:
        info = call_info if call_info is not None else CallInfo()
        response = self._call(self._predict_encoded, prepared.request, timeout, metadata, info)
        try:
            return self._scores(prepared, response)
        except ScoringError as exc:
            exc.request_id = info.request_id
            raise

    # -- the retry loop -------------------------------------------------------------------
    def _call(self, method: Any, request: Request, timeout: Optional[float], metadata: Optional[CallMetadata],
              info: Optional[CallInfo]) -> Any:
        attempts = CallAttempts(self, timeout, metadata, info)
        while True:
            remaining, call_metadata = attempts.next()
            try:
                response, call = method.with_call(request, timeout=remaining, metadata=call_metadata)
            except grpc.RpcError as exc:
                time.sleep(attempts.failed(exc))
                continue
            trailing = call.trailing_metadata()
            attempts.succeeded(trailing, None if has_request_id(trailing) else call.initial_metadata())
            return response

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """The server's ``grpc.health.v1`` status of ``service`` ("" is the whole server):
        ``"SERVING"``, ``"NOT_SERVING"`` (draining) or ``"SERVICE_UNKNOWN"``. One attempt, no
        retries (a health check reports); an unreachable server raises UnavailableError, an
        unknown service NotFoundError, as any call's errors."""
        request, remaining, metadata = self._health_call(service, timeout)
        try:
            response = self._check_health(request, timeout=remaining, metadata=metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return self._health_status(response)

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Closes the channel; later calls fail."""
        self._channel.close()

    def __enter__(self) -> "PredictionClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
