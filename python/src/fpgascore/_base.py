"""What the blocking and the asyncio client share: options, request building, decoding."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import grpc
import numpy as np

from ._channel import DEFAULT_MAX_RESPONSE_BYTES, ChannelOption
from ._config import DEFAULT_TIMEOUT, CallMetadata, ClientConfig, check_timeout
from ._errors import (DeadlineExceededError, Metadata, ScoringError, from_rpc_error, never_retried,
                      request_id_of)
from ._metadata import ModelMetadata, decode_metadata, metadata_request
from ._retry import RetryPlanner, RetryPolicy
from ._tensors import (INPUT_NAME, MODEL_NAME, NUM_CLASSES, OUTPUT_NAME, SIGNATURE_NAME, ImageInput, decode_scores,
                       image_array_values, image_list, predict_request)
from ._tls import RootCertificates
from ._wire import PREDICT_METHOD, RequestEncoder
from .v1 import health_pb2, model_metadata_pb2, predict_pb2, tensor_pb2

__all__ = ["CallAttempts", "CallInfo", "ClientBase", "Prepared", "has_request_id", "logger"]

logger = logging.getLogger("fpgascore")


@dataclass
class CallInfo:
    """Filled in by a call that was given one (``call_info=CallInfo()``).

    Attributes:
        request_id: the server's ``request-id`` of the last attempt ("" when none).
        attempts: attempts made, a secondary-key repeat included.
        code: the final status code (OK on success).
        trailing_metadata: the last attempt's trailing metadata as (key, value) pairs, text
            values only (empty when none arrived, e.g. the call never reached a server).
    """

    request_id: str = ""
    attempts: int = 0
    code: grpc.StatusCode = grpc.StatusCode.OK
    trailing_metadata: Tuple[Tuple[str, str], ...] = ()


@dataclass
class Prepared:
    """A scoring request ready to send (its wire bytes, _wire.RequestEncoder), and how to turn
    its response into scores."""

    request: bytes
    rows: int
    squeeze: bool


class ClientBase:
    """Options, request building and the retry bookkeeping of one logical call."""

    _config: ClientConfig

    def __init__(self, host: str, port: int, use_ssl: bool = False, access_token: Optional[str] = None, *,
                 secondary_access_token: Optional[str] = None, auth_scheme: str = "raw",
                 allow_insecure_key: bool = False, root_certificates: RootCertificates = None,
                 server_name_override: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                 retry_policy: Optional[RetryPolicy] = None, metadata: Optional[CallMetadata] = None,
                 model_name: str = MODEL_NAME, signature_name: str = SIGNATURE_NAME, input_name: str = INPUT_NAME,
                 output_name: str = OUTPUT_NAME, channel_options: Sequence[ChannelOption] = (),
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        """The options of every client (keywords after ``access_token``, checked here once):
        ``secondary_access_token``, ``auth_scheme`` ("raw" | "bearer"), ``allow_insecure_key``,
        ``root_certificates`` (PEM bytes/text or a path), ``server_name_override``, ``timeout``
        (seconds, default 10), ``retry_policy``, ``metadata`` (pairs or a mapping, sent with
        every call), ``model_name``, ``signature_name``, ``input_name``, ``output_name``,
        ``channel_options`` (extra grpc channel arguments), ``max_response_bytes`` (default
        16 MiB)."""
        self._config = ClientConfig(
            host, port, use_ssl, access_token, secondary_access_token=secondary_access_token,
            auth_scheme=auth_scheme, allow_insecure_key=allow_insecure_key, root_certificates=root_certificates,
            server_name_override=server_name_override, timeout=timeout,
            retry_policy=RetryPolicy() if retry_policy is None else retry_policy, metadata=metadata,
            model_name=model_name, signature_name=signature_name, input_name=input_name, output_name=output_name,
            channel_options=list(channel_options), max_response_bytes=max_response_bytes)
        config = self._config
        self._encoder = RequestEncoder(config.model_name, config.signature_name, config.input_name,
                                       self._scores_filter())
        self._connect()

    def _connect(self) -> None:
        """Opens the client's channel (the blocking or the asyncio one)."""
        raise NotImplementedError

    @staticmethod
    def _encoded_predict(channel: Any) -> Any:
        """The Predict method of ``channel`` (blocking or asyncio) taking a request's wire bytes:
        the scoring calls send what _wire.RequestEncoder encodes, with no message built."""
        return channel.unary_unary(PREDICT_METHOD, request_serializer=None,
                                   response_deserializer=predict_pb2.PredictResponse.FromString)

    # -- requests -------------------------------------------------------------------------
    # Encoded straight into the request's bytes: each image or the array's buffer copied once.
    def _images(self, images: Sequence[ImageInput], squeeze: bool) -> Prepared:
        items = image_list(images)
        return Prepared(self._encoder.images(items), len(items), squeeze)

    def _array(self, array: np.ndarray[Any, Any]) -> Prepared:
        values, dims = image_array_values(array)
        return Prepared(self._encoder.floats(values, dims), dims[0], array.ndim == 3)

    def _scores_filter(self) -> Sequence[str]:
        """The server answers the default output unasked; another output name must be asked for."""
        name = self._config.output_name
        return () if name == OUTPUT_NAME else (name,)

    def _request(self, inputs: Mapping[str, tensor_pb2.TensorProto],
                 output_filter: Sequence[str] = ()) -> predict_pb2.PredictRequest:
        return predict_request(inputs, self._config.model_name, output_filter, self._config.signature_name)

    def _metadata_request(self) -> model_metadata_pb2.GetModelMetadataRequest:
        return metadata_request(self._config.model_name)

    def _decode_metadata(self, response: model_metadata_pb2.GetModelMetadataResponse,
                         info: CallInfo) -> ModelMetadata:
        try:
            return decode_metadata(response, self._config.signature_name)
        except ScoringError as exc:
            exc.request_id = info.request_id
            raise

    def _scores(self, prepared: Prepared, response: predict_pb2.PredictResponse) -> np.ndarray[Any, Any]:
        scores = decode_scores(response, self._config.output_name, prepared.rows, NUM_CLASSES)
        return scores[0] if prepared.squeeze else scores  # type: ignore[no-any-return]  # numpy types a row as Any

    def _health_call(self, service: str, timeout: Optional[float]) -> Tuple[health_pb2.HealthCheckRequest, float,
                                                                            Tuple[Tuple[str, str], ...]]:
        """The health check's request, timeout and metadata (the client's, with its key)."""
        if not isinstance(service, str):
            raise TypeError("service must be a string ('' for the whole server)")
        metadata = self._config.call_metadata(self._config.keys.current(), None)
        return health_pb2.HealthCheckRequest(service=service), check_timeout(timeout) or self._config.timeout, metadata

    @staticmethod
    def _health_status(response: health_pb2.HealthCheckResponse) -> str:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    # -- calls ----------------------------------------------------------------------------
    def _deadline(self, timeout: Optional[float]) -> float:
        return time.monotonic() + (check_timeout(timeout) or self._config.timeout)

    def _planner(self, deadline: float) -> RetryPlanner:
        return RetryPlanner(self._config.retry_policy, deadline, time.monotonic)

    def _error(self, exc: grpc.RpcError) -> ScoringError:
        return from_rpc_error(exc, self._config.keys.secrets, use_ssl=bool(self._config.use_ssl))

    def _fill(self, info: Optional[CallInfo], attempts: int, code: grpc.StatusCode, request_id: str,
              trailing: Tuple[Tuple[str, str], ...]) -> None:
        """The call ended: its one DEBUG line, and its CallInfo."""
        if logger.isEnabledFor(logging.DEBUG):  # its arguments cost more than the check
            logger.debug("fpgascore: call to %s ended %s after %d attempt(s) (request-id %s)",
                         self._config.target, code.name, attempts, request_id or "-")
        if info is not None:
            info.attempts, info.code, info.request_id, info.trailing_metadata = attempts, code, request_id, trailing

    def _log_failover(self, error: ScoringError, attempt: int) -> None:
        logger.info("fpgascore: attempt %d to %s failed with UNAUTHENTICATED (request-id %s); repeating it at once "
                    "with the other key", attempt, self._config.target, error.request_id or "-")

    def _log_retry(self, error: ScoringError, attempt: int, sleep: float) -> None:
        logger.info("fpgascore: attempt %d to %s failed with %s (request-id %s); retrying in %.3f s",
                    attempt, self._config.target, error.code.name, error.request_id or "-", sleep)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config.describe()})"


class CallAttempts:
    """The attempts of one logical call: its deadline, the key in use (with at most one
    failover to the other key), the retry policy, and what CallInfo reports. The sync and
    the asyncio client drive it the same way:

        attempts = CallAttempts(client, timeout, metadata, info)
        while True:
            remaining, call_metadata = attempts.next()      # raises once the deadline passed
            try: response = <call>(timeout=remaining, metadata=call_metadata)
            except grpc.RpcError as exc: <sleep>(attempts.failed(exc)); continue   # or raises
            attempts.succeeded(request_id); return response
    """

    def __init__(self, client: "ClientBase", timeout: Optional[float], metadata: Optional[CallMetadata],
                 info: Optional[CallInfo]) -> None:
        self._client = client
        self._deadline = client._deadline(timeout)
        self._planner: Optional[RetryPlanner] = None  # made at the first failure: most calls never need it
        self._keys = client._config.keys
        self._key = self._keys.current()
        self._metadata = metadata
        self._info = info
        self._failed_over = False
        self._attempts = 0
        self._last: Optional[ScoringError] = None
        self._trailing: Tuple[Tuple[str, str], ...] = ()  # the last attempt's

    def next(self) -> Tuple[float, Tuple[Tuple[str, str], ...]]:
        """(seconds left, metadata) for the next attempt; raises when no time is left."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            error = self._last or DeadlineExceededError("deadline exceeded before the call was sent")
            self._client._fill(self._info, self._attempts, error.code, error.request_id, self._trailing)
            raise error
        self._attempts += 1
        return remaining, self._client._config.call_metadata(self._key, self._metadata)

    def failed(self, exc: grpc.RpcError) -> float:
        """Seconds to wait before the next attempt (0 for a key failover); raises the
        client's error when the call must give up."""
        last = self._last = self._client._error(exc)
        trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
        self._trailing = text_metadata(trailing)
        if last.code == grpc.StatusCode.UNAUTHENTICATED and self._keys.has_secondary and not self._failed_over:
            self._failed_over, self._key = True, self._keys.other(self._key)
            self._client._log_failover(last, self._attempts)
            return 0.0
        if self._planner is None:
            self._planner = self._client._planner(self._deadline)
        sleep = None if never_retried(last) else self._planner.next_sleep(
            last.code, trailing, self._attempts - int(self._failed_over))
        if sleep is None:
            self._client._fill(self._info, self._attempts, last.code, last.request_id, self._trailing)
            raise last from None  # the grpcio error behind it adds nothing for the caller
        self._client._log_retry(last, self._attempts, sleep)
        return sleep

    def succeeded(self, trailing: Metadata, initial: Metadata = None) -> None:
        """The call's answer came, with this trailing and initial metadata. The clients read the
        initial metadata only when the trailing has no request-id (:func:`has_request_id`)."""
        if self._failed_over:
            self._keys.prefer(self._key)
        self._client._fill(self._info, self._attempts, grpc.StatusCode.OK, request_id_of(trailing, initial),
                           text_metadata(trailing))


def has_request_id(trailing: Metadata) -> bool:
    """Whether the trailing metadata holds the request-id (then the initial is not needed)."""
    return bool(request_id_of(trailing))


def text_metadata(metadata: Metadata) -> Tuple[Tuple[str, str], ...]:
    """The text (not ``-bin``) entries of a metadata, as plain (key, value) pairs."""
    return tuple((str(key), value) for key, value in metadata or () if isinstance(value, str))


def output_filter_list(output_filter: Sequence[str]) -> List[str]:
    if isinstance(output_filter, str):
        return [output_filter]
    return list(output_filter)
