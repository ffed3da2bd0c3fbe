"""Benchmark of the reference server's FPGA emulation (not a test: it prints numbers).

For a service time and FPGA count it measures, against a fresh server process:
  * latency at low load (one call at a time) next to the configured service time;
  * saturation throughput with enough concurrent callers to keep every FPGA busy, next to
    the theory (FPGAs / service time);
  * past the queue bound: the share of RESOURCE_EXHAUSTED answers and the p99 of admitted calls.

    /usr/bin/python3 bench/emulator.py --service-time-ms 20 --fpgas 2 [--seconds 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("python/src", "conformance/server/src", "conformance/runner/src")]

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig  # noqa: E402

IMAGE = (ROOT / "conformance" / "testdata" / "images" / "tiny-noise.png").read_bytes()


def request() -> predict_pb2.PredictRequest:
    req = predict_pb2.PredictRequest()
    tensor = req.inputs["images"]
    tensor.dtype = tensor_pb2.DT_STRING
    tensor.tensor_shape.dim.add(size=1)
    tensor.string_val.append(IMAGE)
    return req


def load(stub, callers: int, seconds: float):
    """`callers` threads calling back to back for `seconds`; returns (latencies of OK, codes)."""
    latencies, codes, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds
    req = request()

    def caller():
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                stub.Predict(req, timeout=30)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            elapsed = time.perf_counter() - started
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if code == "OK":
                    latencies.append(elapsed)
            if code != "OK":
                time.sleep(0.001)
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return np.array(latencies), codes


def pct(values, q):
    return float(np.percentile(values, q) * 1000) if len(values) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-time-ms", type=float, default=20.0)
    parser.add_argument("--fpgas", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    config = ServerConfig(conformance=False, service_time_ms=args.service_time_ms, fpgas=args.fpgas,
                          queue_depth=args.queue_depth)
    theory = args.fpgas / (args.service_time_ms / 1000.0)
    report = {"service_time_ms": args.service_time_ms, "fpgas": args.fpgas, "queue_depth": args.queue_depth,
              "theoretical_images_per_s": theory}
    with EmulatorProcess(config) as server:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.target))
        stub.Predict(request(), timeout=30)  # warm-up
        low, _ = load(stub, 1, args.seconds / 2)
        # Saturation: FPGAs busy, queue never overflowing.
        callers = args.fpgas + args.queue_depth
        sat, sat_codes = load(stub, callers, args.seconds)
        # Past the bound: far more callers than FPGAs + queue.
        over_callers = (args.fpgas + args.queue_depth) * 3
        over, over_codes = load(stub, over_callers, args.seconds)
    refused = over_codes.get("RESOURCE_EXHAUSTED", 0)
    report.update({
        "low_load": {"p50_ms": pct(low, 50), "p90_ms": pct(low, 90), "p99_ms": pct(low, 99), "calls": len(low)},
        "saturation": {"callers": callers, "images_per_s": len(sat) / args.seconds,
                       "ratio_to_theory": len(sat) / args.seconds / theory, "p99_ms": pct(sat, 99), "codes": sat_codes},
        "overload": {"callers": over_callers, "images_per_s": len(over) / args.seconds,
                     "resource_exhausted_share": refused / max(1, sum(over_codes.values())),
                     "p99_admitted_ms": pct(over, 99), "codes": over_codes},
    })
    print(f"emulator: {args.fpgas} FPGA(s) x {args.service_time_ms:g} ms, queue {args.queue_depth}")
    print(f"  low load      p50 {report['low_load']['p50_ms']:.1f} ms  p90 {report['low_load']['p90_ms']:.1f} ms  "
          f"p99 {report['low_load']['p99_ms']:.1f} ms  (service time {args.service_time_ms:g} ms)")
    s = report["saturation"]
    print(f"  saturation    {s['images_per_s']:.1f} images/s with {callers} callers; theory {theory:.1f}/s "
          f"-> {s['ratio_to_theory']:.3f} of theory; p99 {s['p99_ms']:.1f} ms")
    o = report["overload"]
    print(f"  overload      {over_callers} callers: {o['resource_exhausted_share']:.1%} RESOURCE_EXHAUSTED, "
          f"admitted p99 {o['p99_admitted_ms']:.1f} ms, {o['images_per_s']:.1f} images/s")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
