"""Benchmark of the reference server's FPGA emulation (not a test: it prints numbers).

For a service time and FPGA count it measures, against a fresh server process:
  * latency at low load (one call at a time) next to the configured service time, which is
    meant to hold the CPU stages (p50 within service time + 1 ms, unless the compute is longer);
  * saturation throughput with enough concurrent callers to keep every FPGA busy, next to
    the theory (FPGAs / service time);
  * past the queue bound: the share of RESOURCE_EXHAUSTED answers and the p99 of admitted calls,
    next to the wait the bound allows ((queue + FPGAs) / FPGAs x service time). Refused callers
    wait the server's grpc-retry-pushback-ms hint before calling again, as the clients do;
  * the server's CPU time per image (from /proc), which sets a host ceiling on throughput of
    cores / CPU per image: below it the FPGAs, not the host, are the limit;
  * what the answer's encoding costs: float_val (the default, TF Serving's) against
    tensor_content, on two null-model servers (no model work to hide it) called in
    alternating phases, as server CPU and p50 per call.

    /usr/bin/python3 bench/emulator.py --service-time-ms 20 --fpgas 2 [--seconds 5] [--json out.json]

With ``--targets`` it measures issue #21's targets instead (bench/emulator_targets.py: timing
fidelity over 5/20/50 ms x 1/2/4 FPGAs, throughput at 8 FPGAs x 5 ms for distinct and repeated
images next to the null model's ceiling, CPU per image with the per-stage split) and writes them
as ``{"targets": [...]}``. The score cache is off here (every call computes) unless said.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import threading
import time
from typing import Dict

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The stages measured in this process (--targets) run as the server runs them: BLAS on one thread
# (fpgascore_emulator sets the same, but only when it is imported before numpy).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path[:0] = [str(ROOT / p) for p in ("python/src", "conformance/server/src", "conformance/runner/src")]

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from fpgascore.v1 import predict_pb2, prediction_service_pb2_grpc, tensor_pb2  # noqa: E402
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig  # noqa: E402

PUSHBACK = "grpc-retry-pushback-ms"
SETTLE_S = 0.5  # load's ramp-up before its measuring window

IMAGE = (ROOT / "conformance" / "testdata" / "images" / "large-150k.jpg").read_bytes()
CACHE_OFF = {"FPGASCORE_SCORE_CACHE_ENTRIES": "0"}  # every call computes: the model's cost is measured


def request() -> predict_pb2.PredictRequest:
    req = predict_pb2.PredictRequest()
    tensor = req.inputs["images"]
    tensor.dtype = tensor_pb2.DT_STRING
    tensor.tensor_shape.dim.add(size=1)
    tensor.string_val.append(IMAGE)
    return req


@dataclasses.dataclass
class Load:
    """What `callers` back-to-back callers saw in one window."""
    latencies: np.ndarray   # seconds, OK calls only
    codes: Dict[str, int]   # status name -> calls
    images_per_s: float     # OK calls that ended inside the measuring window, per second
    ok_calls: int = 0       # every OK call, the settle time's too (what the server's CPU was spent on)


def load(stub, callers: int, seconds: float, settle: float = SETTLE_S) -> Load:
    """`callers` threads calling back to back for `settle` + `seconds`. Throughput counts the OK
    calls that end inside the measuring window (after `settle`, before the stop), so neither
    the ramp-up nor the calls still in flight at the stop inflate it."""
    latencies, codes, lock = [], {}, threading.Lock()
    in_window = 0  # OK calls that ended inside [begin, stop]
    ok_calls = 0
    begin = time.monotonic() + settle
    stop = begin + seconds
    req = request()

    def caller():
        nonlocal in_window, ok_calls
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                stub.Predict(req, timeout=30)
                code = "OK"
                pause = 0.0
            except grpc.RpcError as error:
                code = error.code().name
                pause = pushback_s(error)
            elapsed, ended = time.perf_counter() - started, time.monotonic()
            with lock:
                ok_calls += code == "OK"
                if ended >= begin:
                    codes[code] = codes.get(code, 0) + 1
                if code == "OK" and ended >= begin:
                    latencies.append(elapsed)
                    in_window += ended <= stop
            if pause:
                time.sleep(pause)
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Load(np.array(latencies), codes, in_window / seconds, ok_calls)


def pushback_s(error: grpc.RpcError) -> float:
    """The server's retry hint in seconds (1 ms when it gave none)."""
    for key, value in error.trailing_metadata() or ():
        if key == PUSHBACK:
            return int(value) / 1000.0
    return 0.001


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run):
    """run() under a CPU meter: (its result, server CPU seconds spent)."""
    before = cpu_seconds(pid)
    result = run()
    return result, cpu_seconds(pid) - before


def pct(values, q):
    return float(np.percentile(values, q) * 1000) if len(values) else float("nan")


ENCODINGS = ("float_val", "tensor_content")


def encoding_cost(seconds: float, phases: int = 6) -> Dict[str, dict]:
    """Server CPU and p50 per call for each response encoding, null model, one caller:
    phases alternate between the two servers (A B B A ...) so drift hits both alike."""
    servers = {name: EmulatorProcess(ServerConfig(conformance=False, extra_env={
        "FPGASCORE_NULL_MODEL": "1", "FPGASCORE_RESPONSE_ENCODING": name})) for name in ENCODINGS}
    try:
        for server in servers.values():
            server.start()
        stubs = {name: prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.target))
                 for name, server in servers.items()}
        for stub in stubs.values():
            for _ in range(50):
                stub.Predict(request(), timeout=30)
        latencies: Dict[str, list] = {name: [] for name in ENCODINGS}
        cpu = {name: 0.0 for name in ENCODINGS}
        order = [ENCODINGS[(i // 2 + i) % 2] for i in range(2 * phases)]  # A B B A A B B A ...
        for name in order:
            result, spent = measured(servers[name].pid, lambda: load(stubs[name], 1, seconds / (2 * phases), 0.0))
            latencies[name].extend(result.latencies)
            cpu[name] += spent
        return {name: {"calls": len(latencies[name]), "p50_ms": pct(latencies[name], 50),
                       "server_cpu_ms_per_call": 1000 * cpu[name] / max(1, len(latencies[name]))}
                for name in ENCODINGS}
    finally:
        for server in servers.values():
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service-time-ms", type=float, default=20.0)
    parser.add_argument("--fpgas", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--targets", action="store_true", help="measure issue #21's targets (see above)")
    args = parser.parse_args()
    if args.targets:
        import emulator_targets
        targets = emulator_targets.run(ROOT, args.seconds)
        emulator_targets.print_targets(targets)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps({"targets": targets}, indent=2))
        return
    config = ServerConfig(conformance=False, service_time_ms=args.service_time_ms, fpgas=args.fpgas,
                          queue_depth=args.queue_depth, extra_env=CACHE_OFF)
    theory = args.fpgas / (args.service_time_ms / 1000.0)
    report = {"service_time_ms": args.service_time_ms, "fpgas": args.fpgas, "queue_depth": args.queue_depth,
              "theoretical_images_per_s": theory}
    cores = os.cpu_count() or 1
    wait_bound_ms = (args.queue_depth + args.fpgas) / args.fpgas * args.service_time_ms
    capacity = args.fpgas + args.queue_depth  # calls the server holds at once
    with EmulatorProcess(config) as server:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.target))
        stub.Predict(request(), timeout=30)  # warm-up
        low, low_cpu = measured(server.pid, lambda: load(stub, 1, args.seconds / 2))
        # Saturation: FPGAs busy, queue never overflowing.
        sat, sat_cpu = measured(server.pid, lambda: load(stub, capacity, args.seconds))
        # Past the bound: 3x and 6x more callers than FPGAs + queue hold.
        overloads = [(factor * capacity, *measured(server.pid, lambda: load(stub, factor * capacity, args.seconds)))
                     for factor in (3, 6)]
    cpu_per_image_ms = 1000 * low_cpu / max(1, low.ok_calls)  # the settle time's calls spent CPU too
    report.update({
        "low_load": {"p50_ms": pct(low.latencies, 50), "p90_ms": pct(low.latencies, 90),
                     "p99_ms": pct(low.latencies, 99), "calls": len(low.latencies),
                     "server_cpu_ms_per_image": cpu_per_image_ms,
                     "host_ceiling_images_per_s": cores * 1000 / cpu_per_image_ms if cpu_per_image_ms else None},
        "saturation": {"callers": capacity, "images_per_s": sat.images_per_s,
                       "ratio_to_theory": sat.images_per_s / theory, "p99_ms": pct(sat.latencies, 99),
                       "codes": sat.codes, "server_cpu_share_of_host": sat_cpu / (args.seconds + SETTLE_S) / cores},
        "overload": [{"callers": callers, "images_per_s": over.images_per_s,
                      "ratio_to_theory": over.images_per_s / theory,
                      "resource_exhausted_share": over.codes.get("RESOURCE_EXHAUSTED", 0) / max(1, sum(over.codes.values())),
                      "p99_admitted_ms": pct(over.latencies, 99), "queue_wait_bound_ms": wait_bound_ms,
                      "codes": over.codes, "server_cpu_share_of_host": cpu / (args.seconds + SETTLE_S) / cores}
                     for callers, over, cpu in overloads],
    })
    report["encoding"] = encoding_cost(args.seconds)
    print(f"emulator: {args.fpgas} FPGA(s) x {args.service_time_ms:g} ms, queue {args.queue_depth}, "
          f"150 KB JPEG, score cache off")
    print(f"  low load      p50 {report['low_load']['p50_ms']:.1f} ms  p90 {report['low_load']['p90_ms']:.1f} ms  "
          f"p99 {report['low_load']['p99_ms']:.1f} ms  (service time {args.service_time_ms:g} ms)")
    excess = report["low_load"]["p50_ms"] - args.service_time_ms
    report["low_load"]["fidelity_ms"] = excess
    if cpu_per_image_ms > args.service_time_ms:
        verdict = (f"service time below the compute time ({cpu_per_image_ms:.1f} ms of server CPU per image): "
                   f"the compute sets the pace")
    else:
        verdict = "met" if excess <= 1.0 else "not met"
    print(f"  fidelity      low-load p50 - service time = {excess:+.2f} ms (target <= +1 ms, the CPU stages "
          f"inside the service time): {verdict}")
    print(f"  server CPU    {cpu_per_image_ms:.1f} ms per image -> host ceiling {cores} cores / CPU per image = "
          f"{report['low_load']['host_ceiling_images_per_s'] or float('nan'):.0f} images/s")
    s = report["saturation"]
    print(f"  saturation    {s['images_per_s']:.1f} images/s with {capacity} callers; theory {theory:.1f}/s "
          f"-> {s['ratio_to_theory']:.3f} of theory; p99 {s['p99_ms']:.1f} ms; "
          f"server used {s['server_cpu_share_of_host']:.0%} of the host's CPU")
    for o in report["overload"]:
        print(f"  overload      {o['callers']} callers: {o['resource_exhausted_share']:.1%} RESOURCE_EXHAUSTED, "
              f"admitted p99 {o['p99_admitted_ms']:.1f} ms (queue wait bound {wait_bound_ms:.0f} ms + host overhead), "
              f"{o['images_per_s']:.1f} images/s ({o['ratio_to_theory']:.3f} of theory); "
              f"server used {o['server_cpu_share_of_host']:.0%} of the host's CPU")
    e = report["encoding"]
    f, t = e["float_val"], e["tensor_content"]
    print(f"  encoding      null model, 1 caller: float_val (default) {f['server_cpu_ms_per_call']:.3f} ms CPU, "
          f"p50 {f['p50_ms']:.3f} ms; tensor_content {t['server_cpu_ms_per_call']:.3f} ms CPU, p50 {t['p50_ms']:.3f} ms "
          f"-> float_val costs {f['server_cpu_ms_per_call'] - t['server_cpu_ms_per_call']:+.3f} ms CPU, "
          f"{f['p50_ms'] / t['p50_ms']:.3f}x the p50")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
