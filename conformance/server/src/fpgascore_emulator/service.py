"""tensorflow.serving.PredictionService/Predict: the scoring pipeline behind the contract.

Pre-process on the CPU (in the call's thread, within the decode budgets), featurize on the
emulated FPGAs (bounded queue), classify on the CPU. A call that ends early (cancelled,
deadline, drain) stops there: its queued images are dropped and it is logged as it ended.
Errors are ``CallError``s with a precise message that never echoes a credential; request id,
auth, admission, the conformance controls and the log line are the interceptors' (server.py).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, TypeVar, cast

import grpc
import numpy as np

from fpgascore.v1 import (model_metadata_pb2, model_service_pb2_grpc, model_status_pb2, predict_pb2,
                          prediction_service_pb2_grpc, tensor_pb2)

from . import controls, tamper, tensors
from .budget import Abandoned, BudgetBusy, DecodeLanes
from .call_end import CallEnd
from .calls import PUSHBACK, Call, CallError, current
from .config import Settings
from .cpu_slots import CpuSlots, default_slots
from .decoding import ImageError
from .fpga import BatchTooLarge, FpgaPool, QueueFull, Reservation
from .limits import bounded_list
from .model import Model
from .score_cache import Entry, ScoreCache, model_key
from .servable import BadSpec, NotFound, Servable

_NO_DEADLINE_S = 10**7
Message = TypeVar("Message")


@dataclasses.dataclass
class _Inputs:
    """A request's images, ready for the FPGAs: each pre-processed, or None where its scores
    are cached (``cached``); ``keys`` are their score cache keys (None: not cached)."""
    images: List[Optional["np.ndarray[Any, Any]"]]
    cached: List[Optional[Entry]]
    keys: List[Optional[bytes]]
    pixels: List[int]


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata. What every call gets (request id, auth, admission, the
    conformance controls, its log line) the server's interceptors give it; ``calls.current()``
    is the call being served."""

    def __init__(self, settings: Settings, pool: FpgaPool, model: Model,
                 score_cache: Optional[ScoreCache] = None, cpu: Optional[CpuSlots] = None) -> None:
        self._settings = settings
        self._cpu = cpu if cpu is not None else CpuSlots(default_slots())
        self._pool = pool
        self._classify = model.classify
        self._preprocess = model.preprocess
        self._declared_pixels = model.pixels
        self._decode_budget = DecodeLanes(settings.decode_budget_megapixels * 1_000_000)
        self._max_request_pixels = settings.max_request_megapixels * 1_000_000
        self._float_val_default = settings.response_encoding == "float_val"
        self.servable = Servable(name=settings.model_name, version=settings.model_version,
                                 signature_name=settings.signature_name, input_name=settings.input_name,
                                 output_name=settings.output_name, features_name=settings.features_name)
        self._cache = score_cache if score_cache is not None and score_cache.enabled and model.cacheable else None
        # Every setting the scores depend on, and the model's name and version.
        self._model_key = model_key(*model.settings, settings.model_name, settings.model_version)

    def Predict(self, request: predict_pb2.PredictRequest,
                context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        return self._predict(request, context, current())

    def GetModelMetadata(self, request: model_metadata_pb2.GetModelMetadataRequest,
                         context: grpc.ServicerContext) -> model_metadata_pb2.GetModelMetadataResponse:
        self._check_spec(request.model_spec, signature=False)
        try:
            return self.servable.metadata(list(request.metadata_field))
        except BadSpec as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None

    def decode_pixels_in_use(self) -> int:
        return self._decode_budget.held()

    def _check_spec(self, spec: predict_pb2.ModelSpec, signature: bool) -> None:
        try:
            self.servable.check(spec)
            if signature:
                self.servable.check_signature(spec)
        except NotFound as error:
            raise CallError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        except BadSpec as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None

    def _predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext,
                 call: Call) -> predict_pb2.PredictResponse:
        control = call.control
        arrival = time.perf_counter()  # the service time runs from here (after any injected delay)
        self._check_spec(request.model_spec, signature=True)
        outputs = self._output_names(request)
        tensor = self._input_tensor(request)
        end = CallEnd(context)
        reservation = self._reserve(tensor, call.fields)
        use_cache = self._settings.features_name not in outputs  # the cache keeps scores only
        try:
            inputs = self._inputs(tensor, context, end, use_cache)
            futures = reservation.submit(inputs.images, arrival)
        finally:
            reservation.release()

        def drop_queued() -> None:  # the call ended: its images still queued give up their places
            self._pool.withdraw(futures)

        end.on_end(drop_queued)
        features = self._wait(futures, context, end)
        response = predict_pb2.PredictResponse()
        self.servable.answer_spec(response.model_spec)
        as_float_val = self._float_val_default if control.float_val is None else control.float_val
        try:
            if self._settings.output_name in outputs:
                scores = self._scores(inputs, features)
                response.outputs[self._settings.output_name].CopyFrom(
                    tensors.float_tensor(tamper.scores(scores, control), as_float_val))
            if self._settings.features_name in outputs:
                response.outputs[self._settings.features_name].CopyFrom(
                    tensors.float_tensor(np.stack(cast(List["np.ndarray[Any, Any]"], features)), as_float_val))
            tamper.pad(response, control, self._settings.max_message_bytes)
        except controls.ControlError as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        # The answer's lateness is taken when grpcio has sent it (its call has ended): the lead
        # then holds the send as well.
        end.on_end(lambda: self._pool.record_answer(futures, time.perf_counter()))
        return response

    def _scores(self, inputs: _Inputs, features: List[Optional["np.ndarray[Any, Any]"]]) -> "np.ndarray[Any, Any]":
        """[N, classes] scores: the cached ones as they are, the others classified (as one batch)
        and cached."""
        computed = [index for index, entry in enumerate(inputs.cached) if entry is None]
        if len(computed) == len(features):
            with self._cpu.held():
                scores: "np.ndarray[Any, Any]" = self._classify(np.stack(cast(List["np.ndarray[Any, Any]"], features)))
        else:
            rows = [entry.scores if entry is not None else None for entry in inputs.cached]
            if computed:
                with self._cpu.held():
                    fresh = self._classify(np.stack([cast("np.ndarray[Any, Any]", features[index])
                                                     for index in computed]))
                for row, index in zip(fresh, computed):
                    rows[index] = row
            scores = np.stack(cast(List["np.ndarray[Any, Any]"], rows))
        if self._cache is not None:
            for index in computed:
                key = inputs.keys[index]
                if key is not None:
                    self._cache.put(key, scores[index], inputs.pixels[index])
        return scores

    def _output_names(self, request: predict_pb2.PredictRequest) -> List[str]:
        known = (self._settings.output_name, self._settings.features_name)
        if not request.output_filter:
            return [self._settings.output_name]
        unknown = tensors.unknown_names(request.output_filter, known)
        if unknown:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"unknown output {bounded_list(unknown)}; outputs are {list(known)}")
        return list(request.output_filter)

    def _input_tensor(self, request: predict_pb2.PredictRequest) -> tensor_pb2.TensorProto:
        name = self._settings.input_name
        unknown = tensors.unknown_names(request.inputs.keys(), [name])
        if unknown or name not in request.inputs:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"unknown input {bounded_list(unknown) or 'missing'}; "
                            f"expected exactly one input '{name}'")
        tensor = request.inputs[name]
        if tensor.dtype not in (tensor_pb2.DT_STRING, tensor_pb2.DT_FLOAT):
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"input '{name}' has dtype {tensors.dtype_name(tensor.dtype)}; expected DT_STRING "
                            f"(JPEG/PNG bytes, shape [N]) or DT_FLOAT (shape [N, 224, 224, 3])")
        return cast(tensor_pb2.TensorProto, tensor)

    def _reserve(self, tensor: tensor_pb2.TensorProto, fields: Dict[str, object]) -> Reservation:
        """Queue places for the request's images, before any CPU work (cheap refusals)."""
        name = self._settings.input_name
        try:
            if tensor.dtype == tensor_pb2.DT_STRING:
                count = len(tensors.image_bytes(tensor, name, self._settings.max_batch))
            else:
                count = tensors.float_batch_size(tensor, name, self._settings.max_batch)
        except tensors.InputError as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        fields["images"] = count
        try:
            return self._pool.reserve(count)
        except QueueFull as full:
            raise CallError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(full),
                            ((PUSHBACK, str(full.retry_after_ms)),)) from None
        except BatchTooLarge as too_large:  # no pushback: retrying cannot help
            raise CallError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(too_large)) from None

    def _inputs(self, tensor: tensor_pb2.TensorProto, context: grpc.ServicerContext,
                end: CallEnd, use_cache: bool) -> _Inputs:
        """The request's images for the FPGAs, pre-processed on the CPU unless their scores are
        cached (``use_cache``)."""
        name = self._settings.input_name
        try:
            if tensor.dtype != tensor_pb2.DT_STRING:
                floats: List[Optional["np.ndarray[Any, Any]"]] = list(
                    tensors.float_images(tensor, name, self._settings.max_batch))
                return _Inputs(floats, [None] * len(floats), [None] * len(floats), [0] * len(floats))
            encoded = tensors.image_bytes(tensor, name, self._settings.max_batch)
        except tensors.InputError as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        cache = self._cache
        keys: List[Optional[bytes]] = [ScoreCache.key(self._model_key, data) if cache is not None and data else None
                                       for data in encoded]
        cached = [cache.get(key) if cache is not None and use_cache and key is not None else None for key in keys]
        pixels = [entry.pixels if entry is not None else self._image_step(index, self._declared_pixels, data)
                  for index, (data, entry) in enumerate(zip(encoded, cached))]
        self._check_request_pixels(pixels)
        images: List[Optional["np.ndarray[Any, Any]"]] = []
        for index, data in enumerate(encoded):
            if cached[index] is not None:
                images.append(None)  # scored before: only its FPGA time is left
                continue
            if end.ended:
                raise self._ended(context, "before its images were decoded")
            try:
                with self._decode_budget.hold(pixels[index], _remaining(context, self._settings.decode_wait_seconds),
                                              end.event), self._cpu.held(end.event):
                    images.append(self._image_step(index, self._preprocess, data))
            except BudgetBusy as busy:
                raise CallError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(busy),
                                ((PUSHBACK, str(busy.retry_after_ms)),)) from None
            except Abandoned:
                raise self._ended(context, "while its images waited to be decoded") from None
        return _Inputs(images, cached, keys, pixels)

    def _check_request_pixels(self, pixels: List[int]) -> None:
        total = sum(pixels)
        if total > self._max_request_pixels:  # no pushback: retrying cannot help
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"the request's {len(pixels)} images declare {total / 1e6:.1f} megapixels; a request may "
                            f"declare at most {self._max_request_pixels / 1e6:.0f}: send fewer or smaller images")

    @staticmethod
    def _image_step(index: int, step: Callable[[bytes], Message], data: bytes) -> Message:
        if not data:  # refused by every model, the null one included
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, f"image {index}: image is empty (0 bytes)")
        try:
            return step(data)
        except ImageError as error:
            raise CallError(grpc.StatusCode.INVALID_ARGUMENT, f"image {index}: {error}") from None

    def _wait(self, futures: List["concurrent.futures.Future[Any]"], context: grpc.ServicerContext,
              end: CallEnd) -> List[Optional["np.ndarray[Any, Any]"]]:
        """FPGA stage: wait for the request's images, within the call's deadline."""
        ended: "concurrent.futures.Future[None]" = concurrent.futures.Future()
        end.on_end(lambda: ended.set_result(None))
        waiting = set(futures)
        while waiting and not end.ended:
            done, _ = concurrent.futures.wait(waiting | {ended}, timeout=_remaining(context),
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            if not done:
                self._pool.withdraw(futures)
                raise CallError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                "deadline passed while the images waited for an FPGA")
            waiting -= done
        if end.ended or any(future.cancelled() for future in futures):
            raise self._ended(context, "while its images waited for an FPGA")
        return [future.result() for future in futures]

    @staticmethod
    def _ended(context: grpc.ServicerContext, when: str) -> CallError:
        """How a call that ended early is answered (if anyone listens) and logged."""
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return CallError(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed {when}")
        return CallError(grpc.StatusCode.CANCELLED, f"the call was cancelled {when} (the caller left or the "
                                                    f"server is stopping); its images were dropped")


def _remaining(context: grpc.ServicerContext, at_most: Optional[float] = None) -> Optional[float]:
    """Seconds left before the call's deadline (None: no deadline), capped at ``at_most``."""
    remaining: Optional[float] = context.time_remaining()
    if remaining is not None and remaining > _NO_DEADLINE_S:
        remaining = None  # grpcio reports "no deadline" as a huge number
    if at_most is not None:
        remaining = at_most if remaining is None else min(remaining, at_most)
    return remaining


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """tensorflow.serving.ModelService/GetModelStatus: the served version, AVAILABLE."""

    def __init__(self, servable: Servable) -> None:
        self._servable = servable

    def GetModelStatus(self, request: model_status_pb2.GetModelStatusRequest,
                       context: grpc.ServicerContext) -> model_status_pb2.GetModelStatusResponse:
        try:
            return self._servable.status(request.model_spec)
        except NotFound as error:
            raise CallError(grpc.StatusCode.NOT_FOUND, str(error)) from None
