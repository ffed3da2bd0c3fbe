"""Every client against its raw generated stub, side by side in one run (part of make bench).

For each language x payload (150 KB JPEG, batch of 8 distinct images, [1,224,224,3] float
tensor) x concurrency (1, 16) x transport (plaintext, TLS), the public client API is compared
with the raw stub (which builds its request on every call, as the client does) against the
same server. Two servers (--servers):
  * reference: the Python reference server with service time 0 and --null-model (no model
    work: what is left is transport, encoding, the grpcio server's own cost and client cost);
  * native: the Go null server (go/internal/cmd/bench-null-server, bench/native_server.py),
    doing no work, so the latency is mostly the client's and the transport's.

This file does all the planning and all the statistics. Each language has a thin worker
(bench/workers/python_worker.py, go/internal/cmd/bench-worker, csharp/FpgaScore.Bench): it
reads one plan, a JSON line on stdin (make_plan: server, payload, concurrency, each side's
mode, warm-up calls, the phases in order), sets up each side (the client, or the raw stub, each
on its own connection), runs the phases and prints one JSON report: per phase its side, the
latency of every call, its wall and process CPU time (check_report, side_results).

Each configuration runs --reps paired processes (client/stub, then stub/client, ...): one
process holds both sides and alternates short phases of each (A B B A ..., every worker
waiting for the others between phases), so the two sides share the process's thread
placement and the machine's drift. A rep's ratio is its client p50 over its stub p50; the
row's ratio is the median of the reps' ratios, its latencies the medians over the reps. First,
on the first server (--no-noise skips it), the same procedure with the stub on both sides
(stub/stub, an A/A test) shows how far from 1.000 the ratio strays by noise alone. A TCP
loopback echo of the same sizes (bench/tcp_floor.py) is the floor.

    /usr/bin/python3 bench/clients.py [--languages python,go,csharp] [--servers reference,native]
        [--calls 800] [--reps 4] [--json F] [--markdown F]
    /usr/bin/python3 bench/clients.py --from-json F      # the tables again, from a run's JSON
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("python/src", "conformance/server/src", "conformance/runner/src")]

from fpgascore_conformance.certs import make_tls_material  # noqa: E402
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import tcp_floor  # noqa: E402
from native_server import NativeServer  # noqa: E402

IMAGE = ROOT / "conformance" / "testdata" / "images" / "large-150k.jpg"
TOOLS = ROOT / ".tools"
KEY_ENV = "FPGASCORE_BENCH_KEY"
NATIVE_SERVER = TOOLS / "bin" / "fpgascore-bench-null-server"
GO_BUILD = ["bash", "-c", "source scripts/go-env.sh && cd go && "
            "go build -o ../.tools/bin/fpgascore-bench-null-server ./internal/cmd/bench-null-server && "
            "go build -o ../.tools/bin/fpgascore-bench-worker ./internal/cmd/bench-worker"]
BUILD = {
    "native": GO_BUILD,  # the native null server lives in the Go module, beside the Go worker
    "go": GO_BUILD,
    "csharp": ["dotnet", "build", "csharp/FpgaScore.Bench/FpgaScore.Bench.csproj", "-c", "Release",
               "-o", str(TOOLS / "csharp-bench"), "--nologo", "-v", "quiet"],
}
# Each language's worker: it reads one plan (a JSON line) on stdin, runs it, prints one report.
WORKER = {
    "python": [os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3"), str(ROOT / "bench" / "workers" / "python_worker.py")],
    # The same worker, told "asyncio": true: fpgascore.aio against a grpc.aio stub, tasks of one loop.
    "python-asyncio": [os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3"),
                       str(ROOT / "bench" / "workers" / "python_worker.py")],
    "go": [str(TOOLS / "bin" / "fpgascore-bench-worker")],
    "csharp": ["dotnet", str(TOOLS / "csharp-bench" / "FpgaScore.Bench.dll")],
}
PLAN_EXTRA = {"python-asyncio": {"asyncio": True},
              # .NET compiles a hot method a second time, optimized, from a queue on a background
              # thread: the C# worker warms up until the JIT compiles for at most 1 % of a round of
              # it (at most this many seconds). After a fixed 300 calls a side, a slow host measured
              # the client's hot methods unoptimized (csharp/FpgaScore.Bench/PlanRunner.cs).
              "csharp": {"jit_settle_max_s": 30}}
# Where a language's build is (python-asyncio is Python's worker and needs none).
BUILT_AS = {"python-asyncio": "python"}
# The concurrency-64 rows (issue #21, target 4): the asyncio client and the C# client, each against
# its raw stub, 150 KB JPEG, plaintext, on every server.
HIGH_CONCURRENCY = 64
HIGH_CONCURRENCY_LANGUAGES = ("python-asyncio", "csharp")
# A paired process: phases of 20 calls (at least 4 per worker, so that a phase at concurrency
# 16 is not only ramp-up and drain), after 300 warm-up calls per side.
PHASE_CALLS = 20
WARMUP_CALLS = 300
PAYLOAD_FLOOR = {"jpeg": "jpeg-150k", "batch8": "batch-8", "tensor": "tensor-602112"}
SIDE_NAMES = ("a", "b")
ABBA = (0, 1, 1, 0)  # the order of the sides in each block of four phases: cancels order effects
MIN_PHASES_PER_SIDE = 4  # two ABBA blocks


# -- planning: what a worker is told to do -------------------------------------------------------

def plan_phases(calls: int, concurrency: int, phase_calls: int = PHASE_CALLS) -> list:
    """The measured phases of a paired process, as (side index, calls of each worker): each
    worker makes max(1, K // N) calls a phase, K = max(phase_calls, 4 N, N² / 4); both sides
    get the same number of phases, the fewest that make at least `calls` calls each and at least
    MIN_PHASES_PER_SIDE, in the order A B B A A B B A ... At concurrency 64 that is 16 calls a
    worker and 4,096 calls a side: with 4 calls a worker (K = 4 N) a phase was mostly the burst
    of its start and its drain, and the p50 ratio of the stub against itself spread over
    0.87–1.18 between processes."""
    if calls < 1 or concurrency < 1:
        raise ValueError(f"calls and concurrency must be at least 1, not {calls} and {concurrency}")
    per_worker = max(1, max(phase_calls, 4 * concurrency, concurrency * concurrency // 4) // concurrency)
    phases_per_side = max(MIN_PHASES_PER_SIDE, -(-calls // (per_worker * concurrency)))
    return [(ABBA[i % 4], per_worker) for i in range(2 * phases_per_side)]


def warmup_per_worker(concurrency: int) -> int:
    """Warm-up calls of each worker on each side: WARMUP_CALLS a side in all, so that JITs
    (.NET's tiers) reach steady state."""
    return -(-WARMUP_CALLS // concurrency)


def make_plan(modes, payload: str, concurrency: int, calls: int, *, port: int, host: str = "127.0.0.1",
              tls: bool = False, ca=None, key_env=None, image=IMAGE, extra=None) -> dict:
    """The plan a worker runs (the JSON line on its stdin): where to call, what to send, each
    side's mode (client: the public API; stub: the raw generated stub), warm-up calls per worker
    and side, and the phases in order, each a side and the calls of each of the N workers."""
    if len(modes) != 2 or set(modes) - {"client", "stub"}:
        raise ValueError(f"a plan has two sides, each client or stub, not {modes!r}")
    return {"host": host, "port": port, "tls": tls, "ca": str(ca) if ca else None, "key_env": key_env,
            "payload": payload, "image": str(image), "concurrency": concurrency,
            "warmup": warmup_per_worker(concurrency),
            "sides": [{"name": SIDE_NAMES[i], "mode": mode} for i, mode in enumerate(modes)],
            "phases": [{"side": SIDE_NAMES[side], "calls_per_worker": n} for side, n in plan_phases(calls, concurrency)],
            **(extra or {})}


# -- statistics: what the workers' raw timings say ------------------------------------------------

def percentile(values, p: float) -> float:
    """The p-th percentile, interpolated linearly between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = p / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


class BadReport(RuntimeError):
    """A worker's report does not match its plan."""


def check_report(plan: dict, report: dict) -> None:
    """A report has one entry per planned phase, in order: the phase's side, one latency per
    call of each worker, its wall and CPU time."""
    phases = report.get("phases") if isinstance(report, dict) else None
    if not isinstance(phases, list) or len(phases) != len(plan["phases"]):
        raise BadReport(f"the plan has {len(plan['phases'])} phases, the report "
                        f"{len(phases) if isinstance(phases, list) else 'none'}")
    for index, (planned, got) in enumerate(zip(plan["phases"], phases)):
        want = planned["calls_per_worker"] * plan["concurrency"]
        latencies = got.get("latencies_ms")
        if got.get("side") != planned["side"]:
            raise BadReport(f"phase {index}: side {got.get('side')!r}, planned {planned['side']!r}")
        if not isinstance(latencies, list) or len(latencies) != want:
            raise BadReport(f"phase {index}: {len(latencies) if isinstance(latencies, list) else 'no'} "
                            f"latencies, planned {want}")
        if any(not isinstance(x, (int, float)) or x < 0 for x in latencies) or \
                not all(isinstance(got.get(k), (int, float)) and got[k] >= 0 for k in ("wall_ms", "cpu_ms")):
            raise BadReport(f"phase {index}: a latency, wall_ms or cpu_ms is not a number >= 0")


def side_results(plan: dict, report: dict) -> list:
    """Per side of the plan (A, then B): its mode, calls, latency percentiles, throughput over
    the wall time of its phases, and process CPU per call over its phases."""
    check_report(plan, report)
    results = []
    for side in plan["sides"]:
        mine = [phase for phase in report["phases"] if phase["side"] == side["name"]]
        latencies = [x for phase in mine for x in phase["latencies_ms"]]
        wall_s = sum(phase["wall_ms"] for phase in mine) / 1000
        results.append({"mode": side["mode"], "side": side["name"], "calls": len(latencies),
                        "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
                        "p99_ms": percentile(latencies, 99),
                        "throughput_per_s": len(latencies) / wall_s if wall_s > 0 else float("inf"),
                        "cpu_ms_per_call": sum(phase["cpu_ms"] for phase in mine) / len(latencies)})
    return results


def run_worker(language: str, plan: dict) -> dict:
    """One process of the language's worker, told `plan`: its report."""
    command = WORKER[language]
    result = subprocess.run(command, input=json.dumps(plan) + "\n", capture_output=True, text=True, timeout=600,
                            cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {result.returncode}): {result.stderr[-800:]}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise BadReport(f"{' '.join(command)} printed {result.stdout[-800:]!r}, not one JSON report") from None


def run_paired(language, modes, payload, concurrency, server, tls, ca, calls) -> tuple:
    """One paired process of the language's worker (sides A and B): A's and B's results."""
    plan = make_plan(modes, payload, concurrency, calls, port=server.port, tls=tls, ca=ca if tls else None,
                     key_env=KEY_ENV if tls else None, extra=PLAN_EXTRA.get(language))
    report = run_worker(language, plan)
    warmup = report.get("warmup")
    if plan.get("jit_settle_max_s") and isinstance(warmup, dict) and not warmup.get("settled"):
        print(f"note: the {language} worker's JIT was still compiling after {warmup.get('seconds', 0):.0f} s of "
              f"warm-up: this process's phases measure some of that work", flush=True)
    a, b = side_results(plan, report)
    return a, b


@contextlib.contextmanager
def server_pair(name: str, tls, key: str):
    """(plaintext server, TLS server with the key) of one kind; both have .port."""
    if name == "native":
        with NativeServer(NATIVE_SERVER) as plain, \
                NativeServer(NATIVE_SERVER, tls=(tls.server.cert, tls.server.key), key_env=KEY_ENV) as secure:
            yield plain, secure
        return
    common = dict(conformance=False, fpgas=4, queue_depth=128,
                  extra_env={"FPGASCORE_NULL_MODEL": "1", "FPGASCORE_MAX_CONCURRENT_RPCS": "256"})
    with EmulatorProcess(ServerConfig(**common)) as plain, \
            EmulatorProcess(ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=key,
                                         **common)) as secure:
        yield plain, secure


def measure_row(args, server_name, language, tls_on, payload, concurrency, server, ca, floor) -> dict:
    """--reps paired client/stub processes of one configuration; the side the client takes alternates."""
    runs = {"client": [], "stub": []}
    for rep in range(args.reps):
        modes = ("client", "stub") if rep % 2 == 0 else ("stub", "client")
        for mode, result in zip(modes, run_paired(language, modes, payload, concurrency, server, tls_on, ca,
                                                  args.calls)):
            runs[mode].append(result)
    row = {"server": server_name, "language": language, "tls": tls_on, "payload": payload, "concurrency": concurrency}
    for mode, results in runs.items():
        for field in ("p50_ms", "p90_ms", "p99_ms", "throughput_per_s", "cpu_ms_per_call"):
            row[f"{mode}_{field}"] = statistics.median(r[field] for r in results)
    # The ratio within each paired process, then their median.
    row["ratios_p50"] = [c["p50_ms"] / s["p50_ms"] for c, s in zip(runs["client"], runs["stub"])]
    row["ratio_p50"] = statistics.median(row["ratios_p50"])
    row["ratio_p99"] = statistics.median(c["p99_ms"] / s["p99_ms"] for c, s in zip(runs["client"], runs["stub"]))
    # The client's own CPU: client minus stub CPU per call within each paired process, then their median.
    row["cpu_diffs_ms"] = [c["cpu_ms_per_call"] - s["cpu_ms_per_call"] for c, s in zip(runs["client"], runs["stub"])]
    row["cpu_diff_ms"] = statistics.median(row["cpu_diffs_ms"])
    row["floor_p50_ms"] = floor[PAYLOAD_FLOOR[payload]]["p50_ms"]
    row["client_p50_over_floor"] = row["client_p50_ms"] / row["floor_p50_ms"]
    print(f"{server_name:9} {language:14} {'tls' if tls_on else 'plain':5} {payload:7} c={concurrency:<3} "
          f"client p50 {row['client_p50_ms']:7.3f} ms  stub p50 {row['stub_p50_ms']:7.3f} ms  "
          f"ratio {row['ratio_p50']:.3f} ({', '.join(f'{r:.2f}' for r in row['ratios_p50'])})  "
          f"{row['client_p50_over_floor']:6.1f}x floor  "
          f"p99 ratio {row['ratio_p99']:.3f}  "
          f"cpu/call client {row['client_cpu_ms_per_call']:.3f} ms stub {row['stub_cpu_ms_per_call']:.3f} ms "
          f"(client - stub {row['cpu_diff_ms']:+.4f} ms)  "
          f"client {row['client_throughput_per_s']:.0f}/s", flush=True)
    return row


def noise_row(args, server_name, language, payload, concurrency, server) -> dict:
    """The ratio measurement's own noise: the same procedure as measure_row with the stub on
    both sides (a stub/stub plan, an A/A test); its ratio would be 1.000 on a quiet machine."""
    ratios, cpu_diffs = [], []
    for _ in range(args.reps):
        a, b = run_paired(language, ("stub", "stub"), payload, concurrency, server, False, None, args.calls)
        ratios.append(a["p50_ms"] / b["p50_ms"])
        cpu_diffs.append(a["cpu_ms_per_call"] - b["cpu_ms_per_call"])
    row = {"server": server_name, "language": language, "payload": payload, "concurrency": concurrency,
           "aa_ratio_p50": statistics.median(ratios), "aa_ratios": ratios,
           "aa_cpu_diff_ms": statistics.median(cpu_diffs), "aa_cpu_diffs_ms": cpu_diffs}
    print(f"A/A {server_name:9} {language:14} plain {payload:7} c={concurrency:<3} stub/stub p50 ratio "
          f"{row['aa_ratio_p50']:.3f} (reps {', '.join(f'{r:.3f}' for r in ratios)})  CPU/call A - B "
          f"{row['aa_cpu_diff_ms']:+.4f} ms (reps {', '.join(f'{d:+.4f}' for d in cpu_diffs)})", flush=True)
    return row


def noise_table(noise) -> str:
    table = ["| server | language | payload | conc. | stub/stub p50 (median of reps) | each rep (one process) | "
             "CPU ms/call A − B (median; each rep) |",
             "|---|---|---|---|---|---|---|"]
    for n in noise:
        cpu = (f"{n['aa_cpu_diff_ms']:+.4f}; {', '.join(f'{d:+.4f}' for d in n['aa_cpu_diffs_ms'])}"
               if "aa_cpu_diffs_ms" in n else "–")
        table.append(f"| {n.get('server', 'reference')} | {n['language']} | {n['payload']} | {n['concurrency']} | "
                     f"{n['aa_ratio_p50']:.3f} | "
                     f"{', '.join(f'{r:.3f}' for r in n['aa_ratios'])} | {cpu} |")
    return "\n".join(table)


def _cpu_diff(row) -> float:
    """Client minus stub CPU per call (ms): the median over the row's paired processes (an
    earlier run's JSON without them: the difference of the medians)."""
    if "cpu_diff_ms" in row:
        return float(row["cpu_diff_ms"])
    return float(row["client_cpu_ms_per_call"] - row["stub_cpu_ms_per_call"])


def full_table(rows) -> str:
    table = ["| server | language | transport | payload | conc. | client p50 ms | stub p50 ms | client/stub p50 | "
             "each rep | client p99 ms | client/stub p99 | client ÷ TCP floor (p50) | CPU ms/call client / stub | "
             "client − stub CPU ms/call | client calls/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        reps = ", ".join(f"{x:.2f}" for x in r.get("ratios_p50", ()))
        p99 = f"{r['ratio_p99']:.3f}" if "ratio_p99" in r else "–"
        table.append(f"| {r['server']} | {r['language']} | {'TLS' if r['tls'] else 'plaintext'} | {r['payload']} | "
                     f"{r['concurrency']} | {r['client_p50_ms']:.3f} | {r['stub_p50_ms']:.3f} | {r['ratio_p50']:.3f} | "
                     f"{reps} | "
                     f"{r['client_p99_ms']:.2f} | {p99} | {r['client_p50_over_floor']:.1f}× | "
                     f"{r['client_cpu_ms_per_call']:.3f} / {r['stub_cpu_ms_per_call']:.3f} | "
                     f"{_cpu_diff(r):+.4f} | "
                     f"{r['client_throughput_per_s']:.0f} |")
    return "\n".join(table)


def summary_table(rows) -> str:
    """Per server and language: the client/stub p50 ratios of its rows, and the plaintext
    150 KB call at concurrency 1 as a multiple of the TCP floor."""
    table = ["| server | language | client/stub p50: median (min–max) over its rows | rows ≤ 1.05 | "
             "client − stub CPU ms/call at c=1: median (min–max) | 150 KB plaintext c=1: client p50 ms | "
             "÷ TCP echo floor |",
             "|---|---|---|---|---|---|---|"]
    for server in dict.fromkeys(r["server"] for r in rows):
        for language in dict.fromkeys(r["language"] for r in rows if r["server"] == server):
            mine = [r for r in rows if r["server"] == server and r["language"] == language]
            ratios = [r["ratio_p50"] for r in mine]
            single = next((r for r in mine if r["payload"] == "jpeg" and not r["tls"] and r["concurrency"] == 1), None)
            latency = f"{single['client_p50_ms']:.3f} | {single['client_p50_over_floor']:.1f}×" if single else "– | –"
            diffs = [_cpu_diff(r) for r in mine if r["concurrency"] == 1]
            cpu = f"{statistics.median(diffs):+.4f} ({min(diffs):+.4f}–{max(diffs):+.4f})" if diffs else "–"
            table.append(f"| {server} | {language} | {statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) | "
                         f"{sum(r <= 1.05 for r in ratios)} of {len(ratios)} | {cpu} | {latency} |")
    return "\n".join(table)


# Issue #21, target 4: the clients' own cost. The CPU goal is on the median over a language's
# concurrency-1 rows (every server, payload and transport); the ratio goal on every c=64 row.
CPU_GOAL_MS = {"python": 0.03, "go": 0.02, "csharp": 0.02}
RATIO_GOAL = 1.05
LANGUAGE_NAMES = {"python": "Python", "go": "Go", "csharp": "C#", "python-asyncio": "Python asyncio"}


def targets(rows, noise=()) -> list:
    """The target-4 items of bench/targets.py's table: {"target", "goal", "measured", "met"}, met
    None where the run has no rows for it. CPU per call is the process's own (user + system),
    less affected by a busy machine than wall time; the A/A item shows the noise floor."""
    items = []
    for language, goal in CPU_GOAL_MS.items():
        diffs = [_cpu_diff(r) for r in rows if r["language"] == language and r["concurrency"] == 1]
        item = {"target": f"4. {LANGUAGE_NAMES[language]} client − stub CPU per call, concurrency 1",
                "goal": f"≤ {goal:.2f} ms", "measured": "not measured (no rows)", "met": None}
        if diffs:
            median = statistics.median(diffs)
            measured = f"{median:+.4f} ms (median of {len(diffs)} rows; {min(diffs):+.4f} to {max(diffs):+.4f})"
            # The same difference between two stubs: how far it strays by noise alone here.
            aa = [d for n in noise if n.get("language") == language for d in n.get("aa_cpu_diffs_ms", ())]
            if aa:
                measured += f"; A/A {min(aa):+.4f} to {max(aa):+.4f}"
            item.update(measured=measured, met=median <= goal)
        items.append(item)
    for language in HIGH_CONCURRENCY_LANGUAGES:
        mine = [r for r in rows if r["language"] == language and r["concurrency"] == HIGH_CONCURRENCY]
        stub = "grpc.aio stub" if language == "python-asyncio" else "raw stub"
        item = {"target": f"4. {LANGUAGE_NAMES[language]} client ÷ {stub}, concurrency {HIGH_CONCURRENCY}, p50",
                "goal": f"≤ {RATIO_GOAL:.2f}", "measured": "not measured (no rows)", "met": None}
        if mine:
            item.update(measured="; ".join(
                f"{r['server']} {r['ratio_p50']:.3f} (p99 {r['ratio_p99']:.3f}, CPU/call {r['client_cpu_ms_per_call']:.3f}"
                f" vs {r['stub_cpu_ms_per_call']:.3f} ms)" for r in mine),
                met=all(r["ratio_p50"] <= RATIO_GOAL for r in mine))
        items.append(item)
    if noise:
        ratios = [x for n in noise for x in n["aa_ratios"]]
        diffs = [x for n in noise for x in n.get("aa_cpu_diffs_ms", ())]
        measured = f"stub/stub p50 {min(ratios):.3f}–{max(ratios):.3f} over {len(ratios)} reps"
        if diffs:
            measured += f"; CPU/call A − B {min(diffs):+.4f} to {max(diffs):+.4f} ms"
        items.append({"target": "4. (noise floor) A/A: the stub against itself, same procedure",
                      "goal": "information", "measured": measured, "met": None})
    return items


def floor_line(floor) -> str:
    return "TCP floor p50 (echo / exchange): " + ", ".join(
        f"{name} {f['p50_ms']:.3f} / {f['exchange_p50_ms']:.3f} ms" for name, f in floor.items())


def targets_table(items) -> str:
    table = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for t in items:
        verdict = "n/a" if t["met"] is None else ("met" if t["met"] else "not met")
        table.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {verdict} |")
    return "\n".join(table)


def markdown(rows, floor, noise=()) -> str:
    parts = [targets_table(targets(rows, noise)), summary_table(rows), floor_line(floor)]
    if noise:
        parts.append("The ratio's own noise (A/A: the stub against itself, same procedure, plaintext):\n\n"
                     + noise_table(noise))
    return "\n\n".join(parts + [full_table(rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default="python,go,csharp")
    parser.add_argument("--servers", default="reference,native")
    parser.add_argument("--calls", type=int, default=800, help="measured calls per side of each paired process")
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--noise", action=argparse.BooleanOptionalAction, default=True,
                        help="first measure the ratio's own noise: stub vs stub, same procedure (default on)")
    parser.add_argument("--payloads", default="jpeg,batch8,tensor")
    parser.add_argument("--concurrency", default="1,16", help="the concurrencies of every language's rows")
    parser.add_argument("--transports", default="plain,tls")
    parser.add_argument("--c64", action=argparse.BooleanOptionalAction, default=True,
                        help=f"also the concurrency-{HIGH_CONCURRENCY} rows (Python asyncio and C#, 150 KB JPEG, "
                             "plaintext) and their A/A rows (default on)")
    parser.add_argument("--from-json", metavar="FILE", help="only print the tables of an earlier run's --json")
    args = parser.parse_args()
    if args.from_json:
        earlier = json.loads(pathlib.Path(args.from_json).read_text())
        print(markdown(earlier["rows"], earlier["floor"], earlier.get("noise", ())))
        return
    languages = [lang for lang in args.languages.split(",") if lang]
    servers = [name for name in args.servers.split(",") if name]
    payloads = [name for name in args.payloads.split(",") if name]
    transports = [name for name in args.transports.split(",") if name]
    try:
        concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    except ValueError:
        parser.error("--concurrency takes integers, e.g. 1,16")
    if set(servers) - {"reference", "native"}:
        parser.error("--servers takes reference and/or native")
    if set(languages) - {"python", "go", "csharp"} or set(payloads) - set(PAYLOAD_FLOOR) or \
            set(transports) - {"plain", "tls"} or any(c < 1 for c in concurrencies):
        parser.error("--languages takes python, go, csharp; --payloads jpeg, batch8, tensor; --transports plain, "
                     "tls; --concurrency integers >= 1")
    # The concurrency-64 rows of the languages asked for (python-asyncio goes with python).
    high = [lang for lang in HIGH_CONCURRENCY_LANGUAGES if BUILT_AS.get(lang, lang) in languages] if args.c64 else []
    builds = {tuple(BUILD[name]) for name in set(languages + servers) & set(BUILD)}
    for command in sorted(builds):
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    floor = tcp_floor.measure_all(1000)
    tls = make_tls_material(pathlib.Path(tempfile.mkdtemp(prefix="fpgascore-bench-")))
    key = "bench-" + os.urandom(8).hex()
    os.environ[KEY_ENV] = key
    rows, noise = [], []
    for server_name in servers:
        with server_pair(server_name, tls, key) as (plain, secure):
            if args.noise and not noise:  # on the first server, before its rows
                noise = [noise_row(args, server_name, language, payload, concurrency, plain) for language in languages
                         for payload, concurrency in (("jpeg", 1), ("jpeg", 16), ("batch8", 1))]
                noise += [noise_row(args, server_name, language, "jpeg", HIGH_CONCURRENCY, plain) for language in high]
            for language in languages:
                for tls_on in (t == "tls" for t in transports):
                    for payload in payloads:
                        for concurrency in concurrencies:
                            rows.append(measure_row(args, server_name, language, tls_on, payload, concurrency,
                                                    secure if tls_on else plain, tls.ca, floor))
            for language in high:
                rows.append(measure_row(args, server_name, language, False, "jpeg", HIGH_CONCURRENCY, plain, tls.ca,
                                        floor))
    text = markdown(rows, floor, noise)
    print(text)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text + "\n")
    if args.json:
        # "targets": the items bench/targets.py puts in make bench's one table of targets.
        pathlib.Path(args.json).write_text(json.dumps({"floor": floor, "rows": rows, "noise": noise,
                                                       "targets": targets(rows, noise)}, indent=1))


if __name__ == "__main__":
    main()
