"""Servers for the tests: the real reference server (the emulator) as a subprocess, and a
tiny in-process gRPC server whose behaviour each test scripts (for injected failures)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import grpc
import numpy as np

from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2

REPO = Path(__file__).resolve().parents[2]
RUN_EMULATOR = REPO / "scripts" / "run-emulator"
PYTHON = os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")


@dataclass
class Emulator:
    host: str
    port: int
    log: Path
    proc: subprocess.Popen

    def log_lines(self) -> List[Dict[str, Any]]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def attempts(self, case: str) -> List[Dict[str, Any]]:
        """The server's log lines for the attempts of one conformance case id."""
        return [line for line in self.log_lines() if line.get("case") == case]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_emulator(workdir: Path, *, tls: Optional[Tuple[Path, Path]] = None,
                   primary_key: Optional[str] = None, secondary_key: Optional[str] = None,
                   require_auth: bool = False, conformance: bool = True,
                   extra: Sequence[str] = ()) -> Emulator:
    """Starts ``scripts/run-emulator serve`` on a free loopback port; waits for its port file."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)  # never read a stale port
    log = workdir / "server.log"
    args = [str(RUN_EMULATOR), "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    for name, key in (("primary", primary_key), ("secondary", secondary_key)):
        if key is not None:
            key_file = workdir / f"{name}.key"
            key_file.write_text(key)
            key_file.chmod(0o600)
            args += [f"--{name}-key-file", str(key_file)]
    if require_auth:
        args.append("--require-auth")
    if conformance:
        args.append("--conformance")
    args += list(extra)
    env = dict(os.environ, FPGASCORE_PYTHON=PYTHON)
    env.pop("FPGASCORE_PRIMARY_KEY", None)
    env.pop("FPGASCORE_SECONDARY_KEY", None)
    with log.open("wb") as log_file:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return Emulator("127.0.0.1", int(port_file.read_text().strip()), log, proc)
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"emulator did not write {port_file} in 30 s:\n{log.read_text()}")


# -- the in-process fake server ---------------------------------------------------------

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
