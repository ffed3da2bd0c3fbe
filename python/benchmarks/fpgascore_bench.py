#!/usr/bin/env python3
"""One benchmark run of the Python client or the raw generated stub, with the flags every
language's bench command shares (bench/clients.py runs them side by side):

    fpgascore_bench.py --host H --port P [--tls --ca PEM [--server-name NAME] [--key-env VAR]]
        --payload jpeg|batch8|tensor --image PATH --concurrency N --calls M [--warmup W] --mode client|stub

Prints one JSON line: latency percentiles, throughput and process CPU per call.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python" / "src"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

import fpgascore  # noqa: E402
from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402

TENSOR = np.full((1, 224, 224, 3), 0.5, dtype=np.float32)


def key_of(args):
    return os.environ[args.key_env] if args.key_env else None


def client_call(args, image: bytes) -> Callable[[], object]:
    client = fpgascore.PredictionClient(
        args.host, args.port, use_ssl=args.tls, root_certificates=args.ca,
        server_name_override=args.server_name, access_token=key_of(args),
        retry_policy=fpgascore.RetryPolicy.disabled())
    if args.payload == "tensor":
        return lambda: client.score_numpy_array(TENSOR)
    images = [image] * (8 if args.payload == "batch8" else 1)
    return lambda: client.score_images(images)


def stub_call(args, image: bytes) -> Callable[[], object]:
    target = f"{args.host}:{args.port}"
    if args.tls:
        options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
        credentials = grpc.ssl_channel_credentials(Path(args.ca).read_bytes() if args.ca else None)
        channel = grpc.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    images = [image] * (8 if args.payload == "batch8" else 1)

    def build_request() -> predict_pb2.PredictRequest:
        """The request a user of the raw stub builds for each call, as the client does."""
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "resnet50"
        request.model_spec.signature_name = "serving_default"
        tensor = request.inputs["images"]
        if args.payload == "tensor":
            tensor.dtype = tensor_pb2.DT_FLOAT
            for size in TENSOR.shape:
                tensor.tensor_shape.dim.add(size=size)
            tensor.tensor_content = TENSOR.astype("<f4", copy=False).tobytes()
        else:
            tensor.dtype = tensor_pb2.DT_STRING
            tensor.tensor_shape.dim.add(size=len(images))
            tensor.string_val.extend(images)
        return request

    metadata = [("authorization", key_of(args))] if args.key_env else None

    def call():
        output = stub.Predict(build_request(), timeout=30, metadata=metadata).outputs["output_alias"]
        return np.frombuffer(output.tensor_content, dtype="<f4") if output.tensor_content else \
            np.asarray(output.float_val, dtype=np.float32)
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca")
    parser.add_argument("--server-name")
    parser.add_argument("--key-env", help="name of the environment variable holding the key")
    parser.add_argument("--payload", choices=["jpeg", "batch8", "tensor"], default="jpeg")
    parser.add_argument("--image", default=str(REPO / "conformance" / "testdata" / "images" / "large-150k.jpg"))
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mode", choices=["client", "stub"], default="client")
    args = parser.parse_args()
    if not args.tls and (args.ca or args.server_name or args.key_env):
        parser.error("--ca, --server-name and --key-env need --tls")
    image = Path(args.image).read_bytes()
    call = (client_call if args.mode == "client" else stub_call)(args, image)
    shares = [args.calls // args.concurrency + (i < args.calls % args.concurrency) for i in range(args.concurrency)]
    latencies: List[float] = []
    lock = threading.Lock()
    warm = threading.Barrier(args.concurrency + 1)
    go = threading.Event()

    def worker(share: int) -> None:
        for _ in range(args.warmup):
            call()
        warm.wait()
        go.wait()
        mine = []
        for _ in range(share):
            started = time.perf_counter()
            call()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    warm.wait()
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ms = np.array(latencies) * 1000
    print(json.dumps({
        "language": "python", "mode": args.mode, "payload": args.payload, "concurrency": args.concurrency,
        "tls": args.tls, "calls": len(latencies), "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)), "p99_ms": float(np.percentile(ms, 99)),
        "throughput_per_s": len(latencies) / wall, "cpu_ms_per_call": cpu * 1000 / len(latencies)}))


if __name__ == "__main__":
    main()
