"""A tiny in-process gRPC server whose behaviour each test scripts (for injected failures the
reference server cannot produce); the reference server itself comes from the runner's kit
(fpgascore_conformance.emulator, see conftest.py)."""
from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import grpc
import numpy as np

from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2

Handler = Callable[[predict_pb2.PredictRequest, grpc.ServicerContext], predict_pb2.PredictResponse]


def scores_response(rows: int, columns: int = 1000, float_val: bool = False,
                    seed: int = 0) -> Tuple[predict_pb2.PredictResponse, np.ndarray]:
    """A well-formed response with deterministic scores, and those scores."""
    scores = np.random.default_rng(seed).random((rows, columns), dtype=np.float32)
    response = predict_pb2.PredictResponse()
    tensor = response.outputs["output_alias"]
    tensor.dtype = tensor_pb2.DT_FLOAT
    tensor.tensor_shape.dim.add(size=rows)
    tensor.tensor_shape.dim.add(size=columns)
    if float_val:
        tensor.float_val.extend(scores.ravel().tolist())
    else:
        tensor.tensor_content = scores.astype("<f4").tobytes()
    return response, scores


def rows_of(request: predict_pb2.PredictRequest) -> int:
    tensor = request.inputs["images"]
    return tensor.tensor_shape.dim[0].size if tensor.tensor_shape.dim else len(tensor.string_val)


@dataclass
class Received:
    request: predict_pb2.PredictRequest
    metadata: Dict[str, str]
    time: float
    deadline: Optional[float]


class FakeService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers with ``handler`` (default: valid scores) and records every call."""

    def __init__(self) -> None:
        self.handler: Optional[Handler] = None
        self.metadata_handler: Optional[Callable[[Any, grpc.ServicerContext], Any]] = None
        self.calls: List[Received] = []
        self._lock = threading.Lock()

    def GetModelMetadata(self, request, context):  # noqa: N802 (generated name)
        context.set_trailing_metadata([("request-id", "fake-metadata")])
        if self.metadata_handler is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no metadata handler")
        return self.metadata_handler(request, context)

    def Predict(self, request, context):  # noqa: N802 (generated name)
        with self._lock:
            self.calls.append(Received(request, {k: v for k, v in context.invocation_metadata()},
                                       time.monotonic(), context.time_remaining()))
        context.set_trailing_metadata([("request-id", f"fake-{len(self.calls)}")])
        if self.handler is not None:
            return self.handler(request, context)
        return scores_response(rows_of(request))[0]


@dataclass
class FakeServer:
    port: int
    service: FakeService
    server: grpc.Server
    host: str = "127.0.0.1"

    @property
    def calls(self) -> List[Received]:
        return self.service.calls


def start_fake(tls: Optional[Tuple[bytes, bytes]] = None) -> FakeServer:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    service = FakeService()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    if tls:
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(tls[1], tls[0])]))
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return FakeServer(port, service, server)


def failing(code: grpc.StatusCode, message: str = "injected", times: int = 1_000_000,
            trailing: Sequence[Tuple[str, str]] = ()) -> Handler:
    """A handler that fails the first ``times`` calls with ``code``, then answers."""
    count = {"n": 0}

    def handle(request, context):
        count["n"] += 1
        if count["n"] <= times:
            context.set_trailing_metadata([("request-id", f"fail-{count['n']}"), *trailing])
            context.abort(code, message)
        return scores_response(rows_of(request))[0]

    return handle
