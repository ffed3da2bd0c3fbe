#!/usr/bin/env python3
"""One benchmark run of the Python client or the raw generated stub, with the flags every
language's bench command shares (bench/clients.py runs them side by side):

    fpgascore_bench.py --host H --port P [--tls --ca PEM [--server-name NAME] [--key-env VAR]]
        --payload jpeg|batch8|tensor --image PATH --concurrency N --calls M [--warmup W]
        --mode client|stub|A/B [--phase-calls K]

Prints one JSON line: latency percentiles, throughput and process CPU per call.

A paired mode A/B (client/stub, stub/stub for an A/A test, ...) runs both sides in this one
process: each side set up as its single mode, W warm-up calls per worker on A then on B, then
short phases of one side each (K calls split across the workers, a barrier between phases) in
the order A B B A A B B A ..., until each side made at least M calls. CPU and wall time are
read at every phase boundary and count toward the phase's side. It prints one line per side
(A first) with an extra field "side": "a" or "b". Process-to-process scatter (thread placement,
drift) then cancels out of the ratio of the two sides.
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
from typing import Callable, Dict, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python" / "src"))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

import fpgascore  # noqa: E402
from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402

TENSOR = np.full((1, 224, 224, 3), 0.5, dtype=np.float32)


def key_of(args):
    return os.environ[args.key_env] if args.key_env else None


def batch_of(args, image: bytes) -> List[bytes]:
    """The images one call sends: batch8 is eight distinct copies (eight images in memory, as
    a real batch is; the same object eight times would stay in the CPU cache), built once."""
    return [bytes(bytearray(image)) for _ in range(8 if args.payload == "batch8" else 1)]


def client_call(args, image: bytes) -> Callable[[], object]:
    client = fpgascore.PredictionClient(
        args.host, args.port, use_ssl=args.tls, root_certificates=args.ca,
        server_name_override=args.server_name, access_token=key_of(args),
        retry_policy=fpgascore.RetryPolicy.disabled())
    if args.payload == "tensor":
        return lambda: client.score_numpy_array(TENSOR)
    images = batch_of(args, image)
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
    images = batch_of(args, image)

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


MODES = ("client", "stub")
MODE_FACTORIES = {"client": client_call, "stub": stub_call}


def parse_modes(value: str) -> Tuple[str, ...]:
    """``client``, ``stub``, or a pair ``A/B`` of them."""
    modes = tuple(value.split("/"))
    if len(modes) > 2 or any(mode not in MODES for mode in modes):
        raise argparse.ArgumentTypeError(f"--mode is client, stub or a pair of them like client/stub, not {value!r}")
    return modes


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return number


def plan_phases(args, sides: int) -> List[Tuple[int, List[int]]]:
    """The phases: (side, calls of each worker). One side: one phase, --calls split across the
    workers. Two: ABBA-ordered phases of max(1, K // N) calls per worker until each side made
    at least --calls."""
    n = args.concurrency
    if sides == 1:
        return [(0, [args.calls // n + (i < args.calls % n) for i in range(n)])]
    per = max(1, args.phase_calls // n)
    phases_per_side = -(-args.calls // (per * n))
    return [((0, 1, 1, 0)[i % 4], [per] * n) for i in range(2 * phases_per_side)]


class BenchFailed(Exception):
    """A call failed: the run stops."""


class Side:
    """What one side measured: latencies, and the CPU and wall time of its phases."""

    def __init__(self) -> None:
        self.latencies: List[float] = []
        self.cpu = 0.0
        self.wall = 0.0


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(args, calls: Sequence[Callable[[], object]], phases: List[Tuple[int, List[int]]]) -> List[Side]:
    """Warms every side up, then runs the phases with a barrier between them."""
    sides = [Side() for _ in calls]
    lock = threading.Lock()
    barrier = threading.Barrier(args.concurrency + 1)
    errors: List[BaseException] = []

    def worker(index: int) -> None:
        try:
            run_worker(index)
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:  # noqa: B902 - any failed call ends the run
            errors.append(exc)
            barrier.abort()

    def run_worker(index: int) -> None:
        for call in calls:
            for _ in range(args.warmup):
                call()
        for side, shares in phases:
            barrier.wait()
            call, mine = calls[side], []
            for _ in range(shares[index]):
                started = time.perf_counter()
                call()
                mine.append(time.perf_counter() - started)
            with lock:
                sides[side].latencies.extend(mine)
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(args.concurrency)]
    for thread in threads:
        thread.start()
    try:
        for side, _ in phases:
            barrier.wait()  # every worker is ready: warmed up, or done with the phase before
            cpu, started = process_cpu(), time.perf_counter()
            barrier.wait()  # every call of the phase ended
            sides[side].wall += time.perf_counter() - started
            sides[side].cpu += process_cpu() - cpu
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join()
    if errors:
        raise BenchFailed(errors[0])
    return sides


def report(args, mode: str, side: Side) -> Dict[str, object]:
    ms = np.array(side.latencies) * 1000
    calls = len(side.latencies)
    return {
        "language": "python", "mode": mode, "payload": args.payload, "concurrency": args.concurrency,
        "tls": args.tls, "calls": calls, "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)), "p99_ms": float(np.percentile(ms, 99)),
        "throughput_per_s": calls / side.wall, "cpu_ms_per_call": side.cpu * 1000 / calls}


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
    parser.add_argument("--concurrency", type=positive, default=1)
    parser.add_argument("--calls", type=positive, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--mode", type=parse_modes, default=("client",),
                        help="client, stub, or a pair A/B run in this one process (client/stub, stub/stub)")
    parser.add_argument("--phase-calls", type=positive, default=40, help="calls per phase of a paired mode")
    args = parser.parse_args()
    if not args.tls and (args.ca or args.server_name or args.key_env):
        parser.error("--ca, --server-name and --key-env need --tls")
    image = Path(args.image).read_bytes()
    calls = [MODE_FACTORIES[mode](args, image) for mode in args.mode]
    try:
        sides = measure(args, calls, plan_phases(args, len(calls)))
    except BenchFailed as exc:
        sys.exit(f"fpgascore_bench: a call failed: {exc.args[0]!r}")
    for index, (mode, side) in enumerate(zip(args.mode, sides)):
        line = report(args, mode, side)
        if len(sides) == 2:
            line["side"] = "ab"[index]
        print(json.dumps(line))


if __name__ == "__main__":
    main()
