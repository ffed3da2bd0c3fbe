"""Admission: what happens to a call before it may hold one of the server's worker threads.

grpcio runs server interceptors on its polling thread, before the call is handed to the
thread pool, and hands a unary handler to a worker that then blocks until the request
message arrives. So a peer that sends headers and never its message would hold a worker for
as long as it likes, and enough of them starve every other caller. Here:

- a call whose ``authorization`` is not a key (when auth is on) gets a handler that refuses
  it without reading its message: its worker is back in the pool at once;
- every other unary call takes one of ``--max-concurrent-rpcs`` admission slots (none free:
  RESOURCE_EXHAUSTED with a retry hint, its message unread), then reads its message through a
  request iterator, under a watchdog that cancels the call when the message has not arrived
  within ``--request-wait-seconds``.

grpcio's own concurrency limit counts every call, the refused ones too, so it is set well
above the admission slots (``GRPC_LIMIT_FACTOR``): keyless calls, refused in a moment, cannot
take the places of keyed ones.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import grpc

from . import events
from .logs import LineBudget
from .metrics import Metrics
from .security import authorization_of

# Method path -> the event name its log lines carry; these need the key when auth is on.
KEYED_METHODS: Dict[str, str] = events.BY_METHOD
# A servicer method's behaviour: (request or request iterator, context) -> response.
_Behaviour = Callable[[Any, grpc.ServicerContext], Any]
# grpcio's maximum_concurrent_rpcs = this x the admission slots.
GRPC_LIMIT_FACTOR = 4


class Watchdog:
    """One thread running callbacks at their deadlines; arming and disarming are O(log n)."""

    def __init__(self) -> None:
        self._heap: List[Tuple[float, int, Callable[[], None]]] = []
        self._live: Set[int] = set()  # armed, not yet disarmed or run
        self._ids = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._run, name="request-watchdog", daemon=True).start()

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        token = next(self._ids)
        with self._changed:
            self._live.add(token)
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, callback))
            self._changed.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._changed:
            self._live.discard(token)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._changed.wait(timeout)
                if self._closed:
                    return
                _, token, callback = heapq.heappop(self._heap)
                due = token in self._live
                self._live.discard(token)
            if due:
                callback()


class AdmissionInterceptor(grpc.ServerInterceptor):
    def __init__(self, refuse: Callable[[str, grpc.ServicerContext], None],
                 accepts: Callable[[Optional[str]], bool], auth_required: bool, request_wait_s: float,
                 slots: int, refuse_busy: Callable[[str, grpc.ServicerContext], None],
                 rate_limit_logs: bool = True, metrics: Optional[Metrics] = None) -> None:
        """``refuse(event, context)`` answers a call without a valid key (and logs it);
        ``accepts(authorization)`` says whether a header holds a key; ``refuse_busy(event,
        context)`` answers an admissible call when all ``slots`` are taken."""
        self._refuse = refuse
        self._refuse_busy = refuse_busy
        self._metrics = metrics
        self._slots = slots
        self._admitted = 0
        self._admitted_lock = threading.Lock()
        self._accepts = accepts
        self._auth_required = auth_required
        self._request_wait_s = request_wait_s
        self._watchdog = Watchdog()
        self.abandoned_lines = LineBudget("request.abandoned", enabled=rate_limit_logs)

    def close(self) -> None:
        self._watchdog.close()
        self.abandoned_lines.flush()

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None and self._metrics:
            # grpcio answers UNIMPLEMENTED; counted as method "other" (never the peer's path).
            self._metrics.record(details.method, grpc.StatusCode.UNIMPLEMENTED, None)
        if handler is None or handler.unary_unary is None:
            return handler
        event = KEYED_METHODS.get(details.method)
        if event and self._auth_required and not self._accepts(authorization_of(details.invocation_metadata)):
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: self._refuse(event, context),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if not self._take_slot():
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: self._refuse_busy(event or details.method, context),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return grpc.stream_unary_rpc_method_handler(
            self._holding_slot(self._within_request_wait(handler.unary_unary, details.method)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def admitted(self) -> int:
        with self._admitted_lock:
            return self._admitted

    def _take_slot(self) -> bool:
        with self._admitted_lock:
            if self._admitted >= self._slots:
                return False
            self._admitted += 1
            return True

    def _holding_slot(self, behaviour: _Behaviour) -> _Behaviour:
        def serve_then_free(requests: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behaviour(requests, context)
            finally:
                with self._admitted_lock:
                    self._admitted -= 1

        return serve_then_free

    def _within_request_wait(self, behaviour: _Behaviour, method: str) -> _Behaviour:
        def read_then_serve(requests: Any, context: grpc.ServicerContext) -> Any:
            peer = context.peer()
            expired: List[bool] = []

            def expire() -> None:
                expired.append(True)
                context.cancel()

            token = self._watchdog.arm(self._request_wait_s, expire)
            try:
                request = next(requests)
            except (StopIteration, grpc.RpcError):
                half_closed = not expired and context.is_active()
                if self._metrics:
                    self._metrics.record(KEYED_METHODS.get(method, method),
                                         grpc.StatusCode.INVALID_ARGUMENT if half_closed else grpc.StatusCode.CANCELLED,
                                         None)
                if half_closed:  # the caller half-closed without a message
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the call ended without its request message")
                # Cancelled: the caller left, or its message did not come within the wait.
                self.abandoned_lines.log("request.abandoned", method=method, peer=peer,
                                         request_wait_s=self._request_wait_s)
                return None
            finally:
                self._watchdog.disarm(token)
            return behaviour(request, context)

        return read_then_serve
