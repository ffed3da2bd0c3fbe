"""grpc.health.v1.Health: SERVING while the server takes calls, NOT_SERVING while it drains."""
from __future__ import annotations

import threading
from typing import Iterator

import grpc

from fpgascore.v1 import health_pb2, health_service_pb2_grpc

from .calls import CallError
from .limits import bounded

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_KNOWN_SERVICES = ("", "tensorflow.serving.PredictionService")
# Each Watch stream holds a server thread; more than this many at once are refused so that
# unauthenticated health streams cannot starve Predict.
MAX_WATCHERS = 4


class HealthServicer(health_service_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self._status = SERVING
        self._changed = threading.Condition()
        self._watchers = 0

    def set_serving(self, serving: bool) -> None:
        with self._changed:
            self._status = SERVING if serving else NOT_SERVING
            self._changed.notify_all()

    def serving(self) -> bool:
        with self._changed:
            return self._status == SERVING

    def Check(self, request: health_pb2.HealthCheckRequest,
              context: grpc.ServicerContext) -> health_pb2.HealthCheckResponse:
        if request.service not in _KNOWN_SERVICES:
            raise CallError(grpc.StatusCode.NOT_FOUND, f"unknown service '{bounded(request.service)}'")
        with self._changed:
            return health_pb2.HealthCheckResponse(status=self._status)

    def Watch(self, request: health_pb2.HealthCheckRequest,
              context: grpc.ServicerContext) -> Iterator[health_pb2.HealthCheckResponse]:
        if request.service not in _KNOWN_SERVICES:
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            return
        with self._changed:
            if self._watchers >= MAX_WATCHERS:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"at most {MAX_WATCHERS} health watchers at once; use Check")
            self._watchers += 1
        try:
            last = None
            while context.is_active():
                with self._changed:
                    if self._status == last:
                        self._changed.wait(timeout=1.0)
                        continue
                    last = self._status
                yield health_pb2.HealthCheckResponse(status=last)
                if last == NOT_SERVING:
                    return  # draining: end the stream so shutdown does not wait for it
        finally:
            with self._changed:
                self._watchers -= 1
