"""tensorflow.serving.PredictionService/Predict: the scoring pipeline behind the contract.

Pre-process on the CPU (in the call's thread, within the decode budgets), featurize on the
emulated FPGAs (bounded queue), classify on the CPU. A call that ends early (cancelled,
deadline, drain) stops there: its queued images are dropped and it is logged as it ended. Every answer, success or error, carries ``request-id`` in its
trailing metadata; errors have a precise message that never echoes a credential.
"""
from __future__ import annotations

import concurrent.futures
import time
import uuid
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import grpc
import numpy as np

from fpgascore.v1 import (model_metadata_pb2, model_service_pb2_grpc, model_status_pb2, predict_pb2,
                          prediction_service_pb2_grpc, tensor_pb2)

from . import controls, events, tamper, tensors
from .budget import Abandoned, BudgetBusy, DecodeLanes
from .call_end import CallEnd
from .config import Settings
from .decoding import ImageError
from .fpga import BatchTooLarge, FpgaPool, QueueFull
from .limits import bounded_list
from .logs import LineBudget, log
from .metrics import Metrics
from .model import Model
from .security import KeyStore, fingerprint
from .servable import BadSpec, NotFound, Servable

REQUEST_ID = "request-id"
PUSHBACK = "grpc-retry-pushback-ms"
_NO_DEADLINE_S = 10**7
AUTH_MISSING = "authorization missing: send the primary or secondary key in 'authorization' metadata"
AUTH_NOT_ACCEPTED = "authorization not accepted: send the primary or secondary key in 'authorization' metadata"
Message = TypeVar("Message")


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, metadata: Tuple = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.metadata = metadata


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, settings: Settings, keys: KeyStore, pool: FpgaPool, model: Model,
                 metrics: Optional[Metrics] = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._keys = keys
        self._pool = pool
        self._classify = model.classify
        self._preprocess = model.preprocess
        self._declared_pixels = model.pixels
        self._decode_budget = DecodeLanes(settings.decode_budget_megapixels * 1_000_000)
        self._max_request_pixels = settings.max_request_megapixels * 1_000_000
        self._auth_required = settings.tls or settings.require_auth
        self._attempts = controls.AttemptCounter()
        # Anyone can make the server refuse a call: those lines are rate-limited.
        self.refusal_lines = LineBudget("unauthenticated", enabled=not settings.conformance)
        self.busy_lines = LineBudget("busy", enabled=not settings.conformance)
        self._float_val_default = settings.response_encoding == "float_val"
        self.servable = Servable(name=settings.model_name, version=settings.model_version,
                                 signature_name=settings.signature_name, input_name=settings.input_name,
                                 output_name=settings.output_name, features_name=settings.features_name)

    def Predict(self, request: predict_pb2.PredictRequest,
                context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        return self.serve(events.PREDICT, context, lambda control, fields: self._predict(request, context, control, fields))

    def GetModelMetadata(self, request: model_metadata_pb2.GetModelMetadataRequest,
                         context: grpc.ServicerContext) -> model_metadata_pb2.GetModelMetadataResponse:
        def answer(control: controls.Controls, fields: Dict[str, object]) -> model_metadata_pb2.GetModelMetadataResponse:
            self._check_spec(request.model_spec, signature=False)
            try:
                return self.servable.metadata(list(request.metadata_field))
            except BadSpec as error:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None

        return self.serve(events.GET_MODEL_METADATA, context, answer)

    def refuse(self, event: str, context: grpc.ServicerContext) -> None:
        """Answers a call the admission interceptor found without a key (its message unread)."""
        def unauthenticated(control: controls.Controls, fields: Dict[str, object]) -> None:
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, AUTH_NOT_ACCEPTED)

        self.serve(event, context, unauthenticated)

    def refuse_busy(self, event: str, context: grpc.ServicerContext) -> None:
        """Answers a keyed call that found every admission slot taken (its message unread)."""
        request_id = uuid.uuid4().hex
        message = (f"the server is answering its most calls at once ({self._settings.max_concurrent_rpcs}, "
                   f"--max-concurrent-rpcs); retry later")
        retry_ms = self._pool.drain_estimate_ms()
        self.busy_lines.log(event, code=grpc.StatusCode.RESOURCE_EXHAUSTED.name, latency_ms=0.0, message=message,
                            request_id=request_id, peer=context.peer())
        if self._metrics:
            self._metrics.record(event, grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0)
        context.set_trailing_metadata(((REQUEST_ID, request_id), (PUSHBACK, str(retry_ms))))
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)

    def serve(self, event: str, context: grpc.ServicerContext,
               work: Callable[[controls.Controls, Dict[str, object]], Message]) -> Message:
        """What every call gets: a request id, auth, the conformance controls, one log line."""
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        metadata: Dict[str, str] = {}
        for key, value in context.invocation_metadata():
            metadata.setdefault(key, value if isinstance(value, str) else "<binary>")
        fields: Dict[str, object] = {"request_id": request_id, "peer": context.peer()}
        try:
            control = self._admit(metadata, fields)
            response = work(control, fields)
        except _Abort as abort:
            self._log(event, fields, abort.code, started, abort.message)
            context.set_trailing_metadata(((REQUEST_ID, request_id),) + tuple(abort.metadata))
            context.abort(abort.code, abort.message)
        except Exception as error:  # a bug: report it without killing the server
            self._log(event, fields, grpc.StatusCode.INTERNAL, started, repr(error))
            context.set_trailing_metadata(((REQUEST_ID, request_id),))
            context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {request_id})")
        context.set_trailing_metadata(((REQUEST_ID, request_id),))
        self._log(event, fields, grpc.StatusCode.OK, started, "")
        return response

    def _log(self, event: str, fields: Dict[str, object], code: grpc.StatusCode, started: float,
             message: str) -> None:
        seconds = time.perf_counter() - started
        write = self.refusal_lines.log if code is grpc.StatusCode.UNAUTHENTICATED else log
        write(event, code=code.name, latency_ms=round(seconds * 1000, 3), message=message, **fields)
        if self._metrics:
            images = fields.get("images", 0)
            self._metrics.record(event, code, seconds, images if isinstance(images, int) else 0)

    def decode_pixels_in_use(self) -> int:
        return self._decode_budget.held()

    def _admit(self, metadata: Dict[str, str], fields: Dict[str, object]) -> controls.Controls:
        """Authenticates the call, then obeys the conformance controls' delay and failure."""
        authorization = metadata.get("authorization")
        if self._settings.conformance:
            fields["authorization_sha256"] = fingerprint(authorization)
        control = self._controls(metadata, fields)  # read (and logged) now, obeyed only after auth
        if self._auth_required and not self._keys.accepts(authorization):
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, AUTH_MISSING if authorization is None else AUTH_NOT_ACCEPTED)
        if control.delay_s:
            time.sleep(control.delay_s)
        if control.fail_code is not None:
            raise _Abort(control.fail_code, f"injected failure (attempt {control.attempt} of case '{control.case}')",
                         ((PUSHBACK, "0"),) if control.fail_code is grpc.StatusCode.RESOURCE_EXHAUSTED else ())
        return control

    def _check_spec(self, spec: predict_pb2.ModelSpec, signature: bool) -> None:
        try:
            self.servable.check(spec)
            if signature:
                self.servable.check_signature(spec)
        except NotFound as error:
            raise _Abort(grpc.StatusCode.NOT_FOUND, str(error)) from None
        except BadSpec as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None

    def _predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext,
                 control: controls.Controls, fields: Dict[str, object]) -> predict_pb2.PredictResponse:
        arrival = time.perf_counter()  # the service time runs from here (after any injected delay)
        self._check_spec(request.model_spec, signature=True)
        outputs = self._output_names(request)
        tensor = self._input_tensor(request)
        end = CallEnd(context)
        reservation = self._reserve(tensor, fields)
        try:
            images = self._images(tensor, context, end)
            futures = reservation.submit(images, arrival)
        finally:
            reservation.release()
        end.on_end(lambda: self._pool.withdraw(futures))
        features = self._wait(futures, context, end)
        answering = time.perf_counter()
        response = predict_pb2.PredictResponse()
        self.servable.answer_spec(response.model_spec)
        as_float_val = self._float_val_default if control.float_val is None else control.float_val
        try:
            if self._settings.output_name in outputs:
                response.outputs[self._settings.output_name].CopyFrom(
                    tensors.float_tensor(tamper.scores(self._classify(features), control), as_float_val))
            if self._settings.features_name in outputs:
                response.outputs[self._settings.features_name].CopyFrom(
                    tensors.float_tensor(features, as_float_val))
            tamper.pad(response, control, self._settings.max_message_bytes)
        except controls.ControlError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        self._pool.record_answer_time(time.perf_counter() - answering)
        return response

    def _controls(self, metadata, fields) -> controls.Controls:
        if not self._settings.conformance:
            return controls.Controls()
        try:
            control = controls.read(metadata, self._attempts)
        except controls.ControlError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        fields.update(case=control.case, attempt=control.attempt)
        return control

    def _output_names(self, request) -> List[str]:
        known = (self._settings.output_name, self._settings.features_name)
        if not request.output_filter:
            return [self._settings.output_name]
        unknown = tensors.unknown_names(request.output_filter, known)
        if unknown:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"unknown output {bounded_list(unknown)}; outputs are {list(known)}")
        return list(request.output_filter)

    def _input_tensor(self, request) -> tensor_pb2.TensorProto:
        name = self._settings.input_name
        unknown = tensors.unknown_names(request.inputs.keys(), [name])
        if unknown or name not in request.inputs:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"unknown input {bounded_list(unknown) or 'missing'}; "
                         f"expected exactly one input '{name}'")
        tensor = request.inputs[name]
        if tensor.dtype not in (tensor_pb2.DT_STRING, tensor_pb2.DT_FLOAT):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"input '{name}' has dtype {tensors.dtype_name(tensor.dtype)}; expected DT_STRING "
                         f"(JPEG/PNG bytes, shape [N]) or DT_FLOAT (shape [N, 224, 224, 3])")
        return tensor

    def _reserve(self, tensor, fields):
        """Queue places for the request's images, before any CPU work (cheap refusals)."""
        name = self._settings.input_name
        try:
            if tensor.dtype == tensor_pb2.DT_STRING:
                count = len(tensors.image_bytes(tensor, name, self._settings.max_batch))
            else:
                count = tensors.float_batch_size(tensor, name, self._settings.max_batch)
        except tensors.InputError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        fields["images"] = count
        try:
            return self._pool.reserve(count)
        except QueueFull as full:
            raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(full),
                         ((PUSHBACK, str(full.retry_after_ms)),)) from None
        except BatchTooLarge as too_large:  # no pushback: retrying cannot help
            raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(too_large)) from None

    def _images(self, tensor, context: grpc.ServicerContext, end: CallEnd) -> List[np.ndarray]:
        """The pre-processed images of the request: CPU stage."""
        name = self._settings.input_name
        try:
            if tensor.dtype != tensor_pb2.DT_STRING:
                return list(tensors.float_images(tensor, name, self._settings.max_batch))
            encoded = tensors.image_bytes(tensor, name, self._settings.max_batch)
        except tensors.InputError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        pixels = [self._image_step(index, self._declared_pixels, data) for index, data in enumerate(encoded)]
        self._check_request_pixels(pixels)
        images = []
        for index, data in enumerate(encoded):
            if end.ended:
                raise self._ended(context, "before its images were decoded")
            try:
                with self._decode_budget.hold(pixels[index], _remaining(context, self._settings.decode_wait_seconds),
                                              end.event):
                    images.append(self._image_step(index, self._preprocess, data))
            except BudgetBusy as busy:
                raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(busy),
                             ((PUSHBACK, str(busy.retry_after_ms)),)) from None
            except Abandoned:
                raise self._ended(context, "while its images waited to be decoded") from None
        return images

    def _check_request_pixels(self, pixels: List[int]) -> None:
        total = sum(pixels)
        if total > self._max_request_pixels:  # no pushback: retrying cannot help
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"the request's {len(pixels)} images declare {total / 1e6:.1f} megapixels; a request may "
                         f"declare at most {self._max_request_pixels / 1e6:.0f}: send fewer or smaller images")

    @staticmethod
    def _image_step(index: int, step: Callable[[bytes], Message], data: bytes) -> Message:
        if not data:  # refused by every model, the null one included
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"image {index}: image is empty (0 bytes)")
        try:
            return step(data)
        except ImageError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"image {index}: {error}") from None

    def _wait(self, futures, context: grpc.ServicerContext, end: CallEnd) -> np.ndarray:
        """FPGA stage: wait for the request's images, within the call's deadline."""
        ended: concurrent.futures.Future = concurrent.futures.Future()
        end.on_end(lambda: ended.set_result(None))
        waiting = set(futures)
        while waiting and not end.ended:
            done, _ = concurrent.futures.wait(waiting | {ended}, timeout=_remaining(context),
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            if not done:
                self._pool.withdraw(futures)
                raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed while the images waited for an FPGA")
            waiting -= done
        if end.ended or any(future.cancelled() for future in futures):
            raise self._ended(context, "while its images waited for an FPGA")
        return np.stack([future.result() for future in futures])

    @staticmethod
    def _ended(context: grpc.ServicerContext, when: str) -> _Abort:
        """How a call that ended early is answered (if anyone listens) and logged."""
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline passed {when}")
        return _Abort(grpc.StatusCode.CANCELLED, f"the call was cancelled {when} (the caller left or the "
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
    """tensorflow.serving.ModelService/GetModelStatus: the served version, AVAILABLE. Served
    as every PredictionService call is (request id, auth, log line)."""

    def __init__(self, predictions: PredictionServicer) -> None:
        self._predictions = predictions

    def GetModelStatus(self, request: model_status_pb2.GetModelStatusRequest,
                       context: grpc.ServicerContext) -> model_status_pb2.GetModelStatusResponse:
        def answer(control: controls.Controls, fields: Dict[str, object]) -> model_status_pb2.GetModelStatusResponse:
            try:
                return self._predictions.servable.status(request.model_spec)
            except NotFound as error:
                raise _Abort(grpc.StatusCode.NOT_FOUND, str(error)) from None

        return self._predictions.serve(events.GET_MODEL_STATUS, context, answer)
