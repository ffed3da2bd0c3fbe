"""The outermost interceptor: every call of a method in ``events.BY_METHOD`` gets a request id
(``request-id`` in its trailing metadata, success or error), one JSON log line when it ends
(event, code, latency, message, request id, peer, and what the inner interceptors and the
servicer added) and its count in the metrics; a ``CallError`` becomes the call's status, any
other exception INTERNAL naming only the request id.

Log lines any peer can cause at will (refusals, health probes) are rate-limited per kind
(``logs.LineBudget``), except in conformance mode, whose runner reads every line.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import grpc

from . import events
from .calls import REQUEST_ID, Behaviour, Call, CallAbandoned, CallError, rewrap, serving
from .logs import LineBudget, log
from .metrics import Metrics

HEALTH_LINES = "health"


class CallLogInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: Optional[Metrics] = None, rate_limit_logs: bool = True) -> None:
        self._metrics = metrics
        self._rate_limit_logs = rate_limit_logs
        self._budgets: Dict[str, LineBudget] = {}
        self._budgets_lock = threading.Lock()

    def budget(self, kind: str) -> LineBudget:
        """The line budget of one kind of peer-caused line (made on first use, once)."""
        with self._budgets_lock:
            if kind not in self._budgets:
                self._budgets[kind] = LineBudget(kind, enabled=self._rate_limit_logs)
            return self._budgets[kind]

    def flush(self) -> None:
        with self._budgets_lock:
            budgets = list(self._budgets.values())
        for budget in budgets:
            budget.flush()

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Optional[grpc.RpcMethodHandler]],
                          details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        handler = continuation(details)
        if handler is None:
            if self._metrics:  # grpcio answers UNIMPLEMENTED; counted as "other", never the peer's path
                self._metrics.record(details.method, grpc.StatusCode.UNIMPLEMENTED, None)
            return None
        event = events.BY_METHOD.get(details.method)
        if event is None:
            return handler
        logged_event = event
        write = self.budget(HEALTH_LINES).log if details.method in events.OPEN else log
        if handler.unary_stream is not None:  # health Watch: logged and counted when its stream ends
            return grpc.unary_stream_rpc_method_handler(
                self._logged_stream(logged_event, handler.unary_stream, write),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        return rewrap(handler, lambda behaviour: self._logged(logged_event, behaviour, write))

    def _logged(self, event: str, behaviour: Behaviour, write: Callable[..., None]) -> Behaviour:
        def serve(request: Any, context: grpc.ServicerContext) -> Any:
            call = Call.of(event, context)
            started = time.perf_counter()
            with serving(call):
                try:
                    response = behaviour(request, context)
                except CallAbandoned:
                    self._record(call, grpc.StatusCode.CANCELLED, None)
                    return None
                except CallError as error:
                    writer = self.budget(error.refusal).log if error.refusal else log
                    self._end(call, error.code, started, error.message, writer)
                    context.set_trailing_metadata(self._trailers(call) + tuple(error.metadata))
                    context.abort(error.code, error.message)
                except Exception as error:  # a bug: report it without killing the server
                    self._end(call, grpc.StatusCode.INTERNAL, started, repr(error), log)
                    context.set_trailing_metadata(self._trailers(call))
                    context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {call.request_id})")
            context.set_trailing_metadata(self._trailers(call))
            self._end(call, grpc.StatusCode.OK, started, "", write)
            return response

        return serve

    def _logged_stream(self, event: str, behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]],
                       write: Callable[..., None]) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        """A streaming answer's line and count, when it ends: OK when the servicer finished it,
        CANCELLED when the caller left (or the stream was closed), the aborted code otherwise."""
        def serve(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            call = Call.of(event, context)
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                yield from behaviour(request, context)
                code = grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED
            except GeneratorExit:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception:  # context.abort's, or a bug (grpcio then answers UNKNOWN)
                aborted = context.code()
                code = aborted if isinstance(aborted, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
                raise
            finally:
                self._end(call, code, started, "", write)

        return serve

    @staticmethod
    def _trailers(call: Call) -> Tuple[Tuple[str, str], ...]:
        return ((REQUEST_ID, call.request_id), *call.trailers)

    def _end(self, call: Call, code: grpc.StatusCode, started: float, message: str,
             write: Callable[..., None]) -> None:
        seconds = time.perf_counter() - started
        write(call.event, code=code.name, latency_ms=round(seconds * 1000, 3), message=message, **call.fields)
        self._record(call, code, seconds)

    def _record(self, call: Call, code: grpc.StatusCode, seconds: Optional[float]) -> None:
        if self._metrics:
            images = call.fields.get("images", 0)
            self._metrics.record(call.event, code, seconds, images if isinstance(images, int) else 0)
