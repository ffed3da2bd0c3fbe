"""Keyed traffic next to hostile peers (not a test: it prints numbers, nothing is asserted).

The reference server runs as a process with TLS and a key, `--fpgas` emulated FPGAs of
`--service-time-ms` each, so its capacity is known: FPGAs / service time images per second.
The Python client (public API, asyncio) sends keyed calls open-loop at `--load` (50 %) of
that capacity, one small JPEG each. A call's latency runs from the moment it was due, so a
late start counts. Phases of `--seconds` each (`--phases`):

  quiet      the keyed traffic alone;
  half-open  the same, while a keyless peer (a process of its own) holds `--streams` (200)
             half-open Predict streams over TLS: headers sent, the message never. Each stream
             the server ends is opened again at once, so the peer keeps up to 200 open
             (--no-reopen: opened once);
  images     the same, while a keyed peer (a process of its own) sends worst-case images back
             to back: 40-megapixel PNGs (8000x5000, one colour, about 125 KB) and JPEGs whose
             header claims 8000x5000 with almost no data after it. Whatever the server answers
             is counted (OK, RESOURCE_EXHAUSTED, INVALID_ARGUMENT, ...), never an error here;
  attacked   both peers at once.

Per phase it prints the keyed calls' p50/p99/max and errors, each against quiet (attacked /
quiet), the server's peak RSS (VmHWM from /proc, reset at the start of each phase when the
kernel allows; the allocator keeps what it took, so RSS does not fall back after a phase), its
RSS at the end and one second later, its CPU; then what each attacker saw and its own CPU.
All processes share the host's cores: the load average at start and end is printed too.

    /usr/bin/python3 bench/hostile.py --seconds 10            # the README's numbers
    /usr/bin/python3 bench/hostile.py --seconds 10 --json     # JSON on stdout instead
    /usr/bin/python3 bench/hostile.py --json out.json         # text, and JSON to a file
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("python/src", "conformance/server/src", "conformance/runner/src")]

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from fpgascore import AsyncPredictionClient, ScoringError, image_tensor, predict_request  # noqa: E402
from fpgascore.v1 import prediction_service_pb2_grpc  # noqa: E402
from fpgascore_conformance.certs import make_tls_material  # noqa: E402
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig  # noqa: E402
from fpgascore_conformance.hostile import HalfOpenStreams, truncated_jpeg, worst_case_png  # noqa: E402

from emulator import cpu_seconds, pct  # noqa: E402  (bench/emulator.py)

KEY = "bench-hostile-primary-key"
IMAGE = (ROOT / "conformance" / "testdata" / "images" / "gradient.jpg").read_bytes()  # 320x240, 6 KB
WARM_UP_CALLS = 3  # the connection and TLS handshake; not measured
SETTLE_S = 1.0  # attackers running before the attacked phase's window opens


# --- the server's memory --------------------------------------------------------------------

def memory_mib(pid: int) -> dict:
    """VmHWM (peak resident set since start or the last reset) and VmRSS, in MiB."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) / 1024
    return {"peak_rss_mib": fields["VmHWM"], "rss_mib": fields["VmRSS"]}


def reset_peak(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux >= 4.0, the process's owner)."""
    try:
        pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# --- the keyed traffic ----------------------------------------------------------------------

async def keyed_phase(port: int, ca: bytes, rate: float, seconds: float) -> dict:
    """Open-loop keyed calls at `rate` per second for `seconds` (after a few warm-up calls)."""
    async with AsyncPredictionClient("127.0.0.1", port, use_ssl=True, root_certificates=ca, access_token=KEY,
                                     timeout=10.0) as client:
        for _ in range(WARM_UP_CALLS):
            try:
                await client.score_image(IMAGE)
            except ScoringError:
                pass  # counted in the measured calls only
        loop = asyncio.get_running_loop()
        latencies, codes, examples = [], collections.Counter(), {}

        async def call(due: float) -> None:
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                await client.score_image(IMAGE)
            except ScoringError as error:
                codes[error.code.name] += 1
                examples.setdefault(error.code.name, error.details[:120])
            else:
                codes["OK"] += 1
                latencies.append(loop.time() - due)

        start = loop.time() + 0.05
        await asyncio.gather(*(call(start + i / rate) for i in range(int(rate * seconds))))
    latencies = np.array(latencies)
    return {"calls": sum(codes.values()), "codes": dict(codes), "errors": sum(n for c, n in codes.items() if c != "OK"),
            "error_examples": examples,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "max_ms": pct(latencies, 100)}


PHASES = {  # phase -> the attackers running during it
    "quiet": (),
    "half-open": ("half-open",),
    "images": ("images",),
    "attacked": ("half-open", "images"),
}


def run_phase(name: str, server: EmulatorProcess, tls, rate: float, args, work: pathlib.Path) -> dict:
    """One phase: the server's peak RSS reset, its attackers started (and given SETTLE_S), the
    keyed traffic measured, the attackers stopped; then the server's CPU share during the keyed
    window, its peak RSS over the whole phase and its RSS one second after."""
    peak_reset = reset_peak(server.pid)
    attackers = {}
    try:
        for kind in PHASES[name]:
            attackers[kind] = Attacker(kind, server.target, tls.ca, args, work / f"{name}-{kind}.log")
        if attackers:
            time.sleep(SETTLE_S)
        cpu, own, wall = cpu_seconds(server.pid), cpu_seconds(os.getpid()), time.monotonic()
        result = asyncio.run(keyed_phase(server.port, tls.ca.read_bytes(), rate, args.seconds))
        wall = time.monotonic() - wall
        result["server_cpu_share"] = (cpu_seconds(server.pid) - cpu) / wall
        result["keyed_client_cpu_share"] = (cpu_seconds(os.getpid()) - own) / wall
    finally:
        seen = {kind: attacker.stop() for kind, attacker in attackers.items()}
    result.update(memory_mib(server.pid), phase=name, peak_reset=peak_reset, attackers=seen)
    time.sleep(1.0)
    result["rss_after_mib"] = memory_mib(server.pid)["rss_mib"]
    return result


# --- the attackers, each in a process of its own (python bench/hostile.py --attacker ...) -----

def attack_half_open(target: str, ca: bytes, streams: int, reopen: bool, stop: threading.Event) -> dict:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca)
    attack = HalfOpenStreams(target, streams, credentials, timeout=60)
    print("ready", flush=True)
    ended: collections.Counter = collections.Counter()
    open_samples = []
    try:
        while not stop.wait(0.01):
            open_samples.append(sum(1 for code in attack.codes() if code is None))
            if reopen:
                for code in attack.refill():
                    ended[code.name] += 1
    finally:
        if not reopen:
            ended.update(code.name for code in attack.codes() if code is not None)
        attack.close()
    return {"streams_opened": attack.opened, "ended_by_server": dict(ended),
            "open_mean": float(np.mean(open_samples)) if open_samples else 0.0}


def attack_images(target: str, ca: bytes, png_senders: int, jpeg_senders: int, stop: threading.Event) -> dict:
    channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    requests = {"png_40mpx": predict_request({"images": image_tensor([worst_case_png()])}),
                "jpeg_truncated": predict_request({"images": image_tensor([truncated_jpeg()])})}
    codes: collections.Counter = collections.Counter()
    latencies = collections.defaultdict(list)
    lock = threading.Lock()

    def sender(kind: str) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                stub.Predict(requests[kind], timeout=30, metadata=[("authorization", KEY)])
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            with lock:
                codes[(kind, code)] += 1
                latencies[kind].append(time.perf_counter() - started)

    threads = [threading.Thread(target=sender, args=(kind,))
               for kind, count in (("png_40mpx", png_senders), ("jpeg_truncated", jpeg_senders)) for _ in range(count)]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    for thread in threads:
        thread.join()
    channel.close()
    return {"codes": {f"{kind} {code}": n for (kind, code), n in sorted(codes.items())},
            "p50_ms": {kind: pct(np.array(values), 50) for kind, values in latencies.items()},
            "sizes_bytes": {"png_40mpx": len(worst_case_png()), "jpeg_truncated": len(truncated_jpeg())}}


def attacker_main(args) -> None:
    """Attacks until its stdin closes, then prints what it saw as JSON."""
    ca = pathlib.Path(args.ca).read_bytes()
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()
    threading.Thread(target=wait_for_eof, daemon=True).start()
    if args.attacker == "half-open":
        result = attack_half_open(args.target, ca, args.streams, args.reopen, stop)
    else:
        result = attack_images(args.target, ca, args.png_senders, args.jpeg_senders, stop)
    print(json.dumps(result), flush=True)


class Attacker:
    """One attacker process: started, ready, stopped (its JSON report read back)."""

    def __init__(self, kind: str, target: str, ca: pathlib.Path, args, log: pathlib.Path) -> None:
        self._log = open(log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--attacker", kind, "--target", target, "--ca", str(ca),
             "--streams", str(args.streams), "--reopen" if args.reopen else "--no-reopen", "--png-senders", str(args.png_senders),
             "--jpeg-senders", str(args.jpeg_senders)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._started = time.monotonic()
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"attacker {kind} did not start (see {log}): {line!r}")

    def stop(self) -> dict:
        cpu, wall = cpu_seconds(self.process.pid), time.monotonic() - self._started
        out, _ = self.process.communicate("", timeout=120)
        self._log.close()
        return {**json.loads(out.strip().splitlines()[-1]), "cpu_share": cpu / wall}


# --- the run ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase's measuring window")
    parser.add_argument("--service-time-ms", type=float, default=20.0)
    parser.add_argument("--fpgas", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=32)
    parser.add_argument("--load", type=float, default=0.5, help="keyed rate as a share of capacity")
    parser.add_argument("--streams", type=int, default=200, help="the keyless peer's half-open streams")
    parser.add_argument("--reopen", action=argparse.BooleanOptionalAction, default=True,
                        help="open a new half-open stream for each one the server ends (default), so that the "
                             "peer keeps --streams open; --no-reopen: open them once")
    parser.add_argument("--png-senders", type=int, default=2, help="the keyed peer's concurrent 40 Mpx PNG calls")
    parser.add_argument("--jpeg-senders", type=int, default=1, help="its concurrent truncated-JPEG calls")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"which phases, in order (default {','.join(PHASES)}; quiet is needed for the ratios)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="the numbers as JSON: alone, on stdout instead of the text; with FILE, there too")
    parser.add_argument("--attacker", choices=("half-open", "images"), help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        attacker_main(args)
        return

    phases = [name.strip() for name in args.phases.split(",") if name.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown or "quiet" not in phases:
        parser.error(f"--phases: one or more of {', '.join(PHASES)}, quiet among them")
    capacity = args.fpgas / (args.service_time_ms / 1000.0)
    rate = args.load * capacity
    work = pathlib.Path(tempfile.mkdtemp(prefix="fpgascore-hostile-"))
    tls = make_tls_material(work / "tls")
    worst_case_png(), truncated_jpeg()  # made before the clock starts (about 1 s)
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=KEY, conformance=False,
                          service_time_ms=args.service_time_ms, fpgas=args.fpgas, queue_depth=args.queue_depth)
    report = {
        "service_time_ms": args.service_time_ms, "fpgas": args.fpgas, "queue_depth": args.queue_depth,
        "capacity_images_per_s": capacity, "keyed_rate_per_s": rate, "seconds_per_phase": args.seconds,
        "streams": args.streams, "reopen": args.reopen, "png_senders": args.png_senders, "jpeg_senders": args.jpeg_senders,
        "keyed_image_bytes": len(IMAGE), "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
        "phases": []}
    with EmulatorProcess(config) as server:
        report["server_rss_at_start_mib"] = memory_mib(server.pid)["rss_mib"]
        for name in phases:
            report["phases"].append(run_phase(name, server, tls, rate, args, work))
    shutil.rmtree(work, ignore_errors=True)  # kept when the run failed: the attackers' logs are there
    report["load_average_at_end"] = os.getloadavg()[0]
    quiet = next(p for p in report["phases"] if p["phase"] == "quiet")
    for p in report["phases"]:
        p["ratio_p50"], p["ratio_p99"] = p["p50_ms"] / quiet["p50_ms"], p["p99_ms"] / quiet["p99_ms"]
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return
    print_report(report)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


def print_report(r: dict) -> None:
    print(f"hostile: {r['fpgas']} FPGAs x {r['service_time_ms']:g} ms = {r['capacity_images_per_s']:.0f} images/s; "
          f"keyed open-loop {r['keyed_rate_per_s']:.0f} calls/s (TLS, key, {r['keyed_image_bytes']} B JPEG), "
          f"{r['seconds_per_phase']:g} s per phase; server RSS at start {r['server_rss_at_start_mib']:.0f} MiB; "
          f"{r['cores']} cores, load average {r['load_average_at_start']:.1f} at start, {r['load_average_at_end']:.1f} at end")
    print(f"  {'phase':10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'x p50':>6} {'x p99':>6} {'calls':>5}  "
          f"{'errors':24} {'peak RSS':>9} {'RSS':>6} {'after':>6} {'CPU':>5}")
    for p in r["phases"]:
        errors = ", ".join(f"{c} {n}" for c, n in sorted(p["codes"].items()) if c != "OK") or "none"
        print(f"  {p['phase']:10} {p['p50_ms']:8.1f} {p['p99_ms']:8.1f} {p['max_ms']:8.1f} {p['ratio_p50']:6.2f} "
              f"{p['ratio_p99']:6.2f} {p['calls']:5}  {errors:24} {p['peak_rss_mib']:6.0f} MiB {p['rss_mib']:6.0f} "
              f"{p['rss_after_mib']:6.0f} {p['server_cpu_share']:5.0%}")
    print("  (x p50, x p99: against quiet; peak RSS: the server's VmHWM over the phase"
          + ("" if all(p["peak_reset"] for p in r["phases"]) else ", NOT reset between phases (no clear_refs)")
          + "; RSS at the end and 1 s after, MiB; CPU: the server's, share of one core)")
    for p in r["phases"]:
        for code, details in p["error_examples"].items():
            print(f"  {p['phase']:10} keyed {code}, e.g. {details!r}")
        print(f"  {p['phase']:10} keyed client's CPU {p['keyed_client_cpu_share']:.0%} of a core")
        for kind, seen in p["attackers"].items():
            if kind == "half-open":
                ended = ", ".join(f"{c} {n}" for c, n in sorted(seen["ended_by_server"].items())) or "none"
                print(f"  {p['phase']:10} keyless peer: {r['streams']} half-open streams"
                      f"{', reopened when ended' if r['reopen'] else ', opened once'}, {seen['streams_opened']} "
                      f"opened in all, {seen['open_mean']:.0f} open on average; ended by the server: {ended}; "
                      f"its CPU {seen['cpu_share']:.0%}")
            else:
                print(f"  {p['phase']:10} worst-case images ({r['png_senders']} PNG + {r['jpeg_senders']} JPEG "
                      f"senders; PNG {seen['sizes_bytes']['png_40mpx']} B, JPEG {seen['sizes_bytes']['jpeg_truncated']} B): "
                      + ", ".join(f"{k} {n}" for k, n in seen["codes"].items())
                      + "; p50 " + ", ".join(f"{k} {v:.0f} ms" for k, v in seen["p50_ms"].items())
                      + f"; its CPU {seen['cpu_share']:.0%}")


if __name__ == "__main__":
    main()
