"""Admission: what happens to a call before it may hold one of the server's worker threads.

grpcio hands a unary handler to a worker that then blocks until the request message arrives.
So a peer that sends headers and never its message would hold a worker for as long as it
likes, and enough of them starve every other caller. Keyless calls are refused at their
headers (``auth``); here, every other unary call of a method the server serves takes one of
``--max-concurrent-rpcs`` admission slots (none free: RESOURCE_EXHAUSTED with a retry hint,
its message unread), then reads its message through a request iterator, under a watchdog
that cancels the call when the message has not arrived within ``--request-wait-seconds``.

grpcio's own concurrency limit counts every call, the refused ones too, so it is set well
above the admission slots (``GRPC_LIMIT_FACTOR``): keyless calls, refused in a moment, cannot
take the places of keyed ones.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, Set, Tuple

import grpc

from .calls import PUSHBACK, Behaviour, CallAbandoned, CallError
from .logs import LineBudget

# grpcio's maximum_concurrent_rpcs = this x the admission slots.
GRPC_LIMIT_FACTOR = 4
BUSY = "busy"  # the log-line budget of busy refusals


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
    def __init__(self, request_wait_s: float, slots: int, retry_after_ms: Callable[[], int],
                 rate_limit_logs: bool = True) -> None:
        """``retry_after_ms()`` is the retry hint of a call refused because all ``slots``
        are taken."""
        self._slots = slots
        self._retry_after_ms = retry_after_ms
        self._admitted = 0
        self._admitted_lock = threading.Lock()
        self._request_wait_s = request_wait_s
        self._watchdog = Watchdog()
        self.abandoned_lines = LineBudget("request.abandoned", enabled=rate_limit_logs)

    def close(self) -> None:
        self._watchdog.close()
        self.abandoned_lines.flush()

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Optional[grpc.RpcMethodHandler]],
                          details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.stream_unary_rpc_method_handler(
            self._holding_slot(self._within_request_wait(handler.unary_unary, details.method)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def admitted(self) -> int:
        with self._admitted_lock:
            return self._admitted

    def _holding_slot(self, behaviour: Behaviour) -> Behaviour:
        def serve_then_free(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            with self._admitted_lock:
                free = self._admitted < self._slots
                if free:
                    self._admitted += 1
            if not free:
                raise CallError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"the server is answering its most calls at once ({self._slots}, "
                                f"--max-concurrent-rpcs); retry later",
                                ((PUSHBACK, str(self._retry_after_ms())),), refusal=BUSY)
            try:
                return behaviour(requests, context)
            finally:
                with self._admitted_lock:
                    self._admitted -= 1

        return serve_then_free

    def _within_request_wait(self, behaviour: Behaviour, method: str) -> Behaviour:
        def read_then_serve(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            peer = context.peer()
            expired: List[bool] = []

            def expire() -> None:
                expired.append(True)
                context.cancel()

            token = self._watchdog.arm(self._request_wait_s, expire)
            try:
                request = next(requests)
            except (StopIteration, grpc.RpcError):
                if not expired and context.is_active():  # the caller half-closed without a message
                    raise CallError(grpc.StatusCode.INVALID_ARGUMENT,
                                    "the call ended without its request message (none sent, or one over "
                                    "--max-message-bytes)", refusal="request.abandoned") from None
                # Cancelled: the caller left, or its message did not come within the wait.
                self.abandoned_lines.log("request.abandoned", method=method, peer=peer,
                                         request_wait_s=self._request_wait_s)
                raise CallAbandoned() from None
            finally:
                self._watchdog.disarm(token)
            return behaviour(request, context)

        return read_then_serve
