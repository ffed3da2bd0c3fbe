#!/usr/bin/env python3
"""Benchmark (not a test): fpgascore.PredictionClient against the raw generated stub.

Both send the same payload over their own channel to the same server, interleaved call by
call; the stub's request is built by hand per call (as a user of the bare stub would) and
its scores decoded with np.frombuffer. The script prints latency percentiles for each and
the client/stub ratio: what the client's checks, retry bookkeeping and metadata cost.

    /usr/bin/python3 python/benchmarks/bench_client_vs_stub.py                    # starts the emulator
    /usr/bin/python3 python/benchmarks/bench_client_vs_stub.py --server echo      # in-process echo server
    /usr/bin/python3 python/benchmarks/bench_client_vs_stub.py --host H --port P  # a running server
Options: --calls N (default 200), --payload image|batch8|tensor, --warmup N.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path
from typing import Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python" / "src"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

import fpgascore  # noqa: E402
from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402

IMAGE = REPO / "conformance" / "testdata" / "images" / "gradient.jpg"


def percentile(values: List[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


class Echo(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers every request with fixed [N,1000] scores (no model): isolates client cost."""

    def Predict(self, request, context):  # noqa: N802
        tensor = request.inputs["images"]
        rows = tensor.tensor_shape.dim[0].size if tensor.tensor_shape.dim else 1
        response = predict_pb2.PredictResponse()
        out = response.outputs["output_alias"]
        out.dtype = tensor_pb2.DT_FLOAT
        out.tensor_shape.dim.add(size=rows)
        out.tensor_shape.dim.add(size=1000)
        out.tensor_content = np.full((rows, 1000), 1e-3, dtype="<f4").tobytes()
        context.set_trailing_metadata([("request-id", "echo")])
        return response


def start_emulator(workdir: Path) -> "tuple[subprocess.Popen, int]":
    port_file = workdir / "port"
    proc = subprocess.Popen([str(REPO / "scripts" / "run-emulator"), "serve", "--host", "127.0.0.1", "--port", "0",
                             "--port-file", str(port_file), "--queue-depth", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text())
        if proc.poll() is not None:
            raise SystemExit("the emulator did not start")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the emulator did not write its port file")


def raw_request(images: Optional[List[bytes]] = None, array: Optional[np.ndarray] = None) -> predict_pb2.PredictRequest:
    """What a user of the bare stub writes: the request built by hand, per call."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "resnet50"
    request.model_spec.signature_name = "serving_default"
    tensor = request.inputs["images"]
    if images is not None:
        tensor.dtype = tensor_pb2.DT_STRING
        tensor.tensor_shape.dim.add(size=len(images))
        tensor.string_val.extend(images)
    else:
        assert array is not None
        tensor.dtype = tensor_pb2.DT_FLOAT
        for size in array.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = array.astype("<f4").tobytes()
    return request


def payloads(kind: str):
    """(client call, builder of the raw stub's request) for the same payload."""
    if kind in ("image", "batch8"):
        data = [IMAGE.read_bytes()] * (1 if kind == "image" else 8)
        if kind == "image":
            return (lambda c: c.score_image(data[0])), (lambda: raw_request(images=data))
        return (lambda c: c.score_images(data)), (lambda: raw_request(images=data))
    array = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    return (lambda c: c.score_numpy_array(array)), (lambda: raw_request(array=array))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["emulator", "echo"], default="emulator")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--payload", choices=["image", "batch8", "tensor"], default="image")
    args = parser.parse_args()

    proc: Optional[subprocess.Popen] = None
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.port:
            host, port, where = args.host or "127.0.0.1", args.port, f"{args.host}:{args.port}"
        elif args.server == "echo":
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Echo(), server)
            host, port = "127.0.0.1", server.add_insecure_port("127.0.0.1:0")
            server.start()
            where = "in-process echo server"
        else:
            proc, port = start_emulator(Path(tmp))
            host, where = "127.0.0.1", "reference server (emulator), plaintext"
        try:
            client_call, build_raw = payloads(args.payload)
            client = fpgascore.PredictionClient(host, port)
            channel = grpc.insecure_channel(f"{host}:{port}")
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def raw() -> None:
                response = stub.Predict(build_raw(), timeout=10)
                np.frombuffer(response.outputs["output_alias"].tensor_content, dtype="<f4")

            runs: Dict[str, Callable[[], object]] = {"fpgascore client": lambda: client_call(client), "raw stub": raw}
            for _ in range(args.warmup):
                for run in runs.values():
                    run()
            latencies: Dict[str, List[float]] = {name: [] for name in runs}
            for _ in range(args.calls):
                for name, run in runs.items():
                    start = time.perf_counter()
                    run()
                    latencies[name].append((time.perf_counter() - start) * 1000)
            client.close()
            channel.close()
        finally:
            if server is not None:
                server.stop(None)
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)

    print(f"payload={args.payload} calls={args.calls} (interleaved) against {where}")
    print(f"{'':18s} {'p50 ms':>9s} {'p90 ms':>9s} {'p99 ms':>9s} {'mean ms':>9s}")
    for name, values in latencies.items():
        print(f"{name:18s} {percentile(values, 50):9.3f} {percentile(values, 90):9.3f} "
              f"{percentile(values, 99):9.3f} {statistics.fmean(values):9.3f}")
    client_ms, stub_ms = latencies["fpgascore client"], latencies["raw stub"]
    print(f"ratio client/stub: p50 {percentile(client_ms, 50) / percentile(stub_ms, 50):.3f}, "
          f"p99 {percentile(client_ms, 99) / percentile(stub_ms, 99):.3f}, "
          f"mean {statistics.fmean(client_ms) / statistics.fmean(stub_ms):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
