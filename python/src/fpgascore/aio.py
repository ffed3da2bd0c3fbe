"""The asyncio client: ``AsyncPredictionClient``, the same API as PredictionClient, awaited."""
from __future__ import annotations

import asyncio
from typing import Any, Mapping, Optional, Sequence

import grpc
import grpc.aio
import numpy as np

from ._base import CallAttempts, CallInfo, ClientBase, Prepared, has_request_id, output_filter_list
from ._config import CallMetadata
from ._channel import create_aio_channel
from ._errors import ScoringError
from ._metadata import ModelMetadata
from ._tensors import ImageInput
from .v1 import health_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc, tensor_pb2

__all__ = ["AsyncPredictionClient"]


class AsyncPredictionClient(ClientBase):
    """The asyncio twin of :class:`~fpgascore.PredictionClient` (grpc.aio).

    Create it inside a running event loop; use ``async with`` or ``await client.close()``.
    """

    def _connect(self) -> None:
        config = self._config
        self._channel = create_aio_channel(config.target, bool(config.use_ssl), config.root_certificates,
                                           config.server_name_override, config.channel_options,
                                           config.max_response_bytes)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._predict = stub.Predict
        self._predict_encoded = self._encoded_predict(self._channel)
        self._get_model_metadata = stub.GetModelMetadata
        self._check_health = health_service_pb2_grpc.HealthStub(self._channel).Check

    async def score_image(self, image: ImageInput, *, timeout: Optional[float] = None,
                          metadata: Optional[CallMetadata] = None,
                          call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores one image (path, bytes or binary file): float32 ``[1000]``."""
        return await self._score(self._images([image], squeeze=True), timeout, metadata, call_info)

    async def score_images(self, images: Sequence[ImageInput], *, timeout: Optional[float] = None,
                           metadata: Optional[CallMetadata] = None,
                           call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores a batch of images in one call: float32 ``[N, 1000]``."""
        return await self._score(self._images(images, squeeze=False), timeout, metadata, call_info)

    async def score_numpy_array(self, array: np.ndarray[Any, Any], *, timeout: Optional[float] = None,
                                metadata: Optional[CallMetadata] = None,
                                call_info: Optional[CallInfo] = None) -> np.ndarray[Any, Any]:
        """Scores preprocessed float images: ``[224,224,3]`` → ``[1000]``, ``[N,224,224,3]`` → ``[N,1000]``."""
        return await self._score(self._array(array), timeout, metadata, call_info)

    async def predict(self, inputs: Mapping[str, tensor_pb2.TensorProto], output_filter: Sequence[str] = (), *,
                      timeout: Optional[float] = None, metadata: Optional[CallMetadata] = None,
                      call_info: Optional[CallInfo] = None) -> predict_pb2.PredictResponse:
        """The low-level call: any input tensors, the raw ``PredictResponse``."""
        request = self._request(inputs, output_filter_list(output_filter))
        response: predict_pb2.PredictResponse = await self._call(self._predict, request, timeout, metadata, call_info)
        return response

    async def model_metadata(self, *, timeout: Optional[float] = None, metadata: Optional[CallMetadata] = None,
                             call_info: Optional[CallInfo] = None) -> ModelMetadata:
        """The served model's name, version and signature (input and output names, dtypes,
        shapes), from TF Serving's ``GetModelMetadata``."""
        info = call_info if call_info is not None else CallInfo()
        response = await self._call(self._get_model_metadata, self._metadata_request(), timeout, metadata, info)
        return self._decode_metadata(response, info)

    async def _score(self, prepared: Prepared, timeout: Optional[float], metadata: Optional[CallMetadata],
                     call_info: Optional[CallInfo]) -> np.ndarray[Any, Any]:
        info = call_info if call_info is not None else CallInfo()
        response = await self._call(self._predict_encoded, prepared.request, timeout, metadata, info)
        try:
            return self._scores(prepared, response)
        except ScoringError as exc:
            exc.request_id = info.request_id
            raise

    async def _call(self, method: Any, request: Any, timeout: Optional[float], metadata: Optional[CallMetadata],
                    info: Optional[CallInfo]) -> Any:
        attempts = CallAttempts(self, timeout, metadata, info)
        while True:
            remaining, call_metadata = attempts.next()
            call = method(request, timeout=remaining, metadata=call_metadata)
            try:
                response = await call
            except grpc.RpcError as exc:
                await asyncio.sleep(attempts.failed(exc))
                continue
            trailing = await call.trailing_metadata()
            attempts.succeeded(trailing, None if has_request_id(trailing) else await call.initial_metadata())
            return response

    async def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """The server's ``grpc.health.v1`` status of ``service`` (see ``PredictionClient.health``)."""
        request, remaining, metadata = self._health_call(service, timeout)
        try:
            response = await self._check_health(request, timeout=remaining, metadata=metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return self._health_status(response)

    async def close(self) -> None:
        """Closes the channel; calls still running are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> "AsyncPredictionClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
