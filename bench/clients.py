"""Every client against its raw generated stub, side by side in one run (part of make bench).

For each language x payload (150 KB JPEG, batch of 8, [1,224,224,3] float tensor) x
concurrency (1, 16) x transport (plaintext, TLS), the language's bench command compares the
public client API with the raw stub (which builds its request on every call, as the client
does) against the same server. Two servers (--servers):
  * reference: the Python reference server with service time 0 and --null-model (no model
    work: what is left is transport, encoding, the grpcio server's own cost and client cost);
  * native: `fpgascore-bench serve` (bench/native_server.py), a Go server doing no work, so
    the latency is mostly the client's and the transport's.
Each configuration runs --reps paired processes (`--mode client/stub`, then `stub/client`,
...): one process holds both sides and alternates short phases of each (A B B A ...), so the
two sides share the process's thread placement and the machine's drift. A rep's ratio is its
client p50 over its stub p50; the row's ratio is the median of the reps' ratios, its
latencies the medians over the reps. First, on the first server (--no-noise skips it), the same
procedure with the stub on both sides (`stub/stub`, an A/A test) shows how far from 1.000 the
ratio strays by noise alone. A TCP loopback echo of the same sizes (bench/tcp_floor.py) is the
floor.

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
NATIVE_SERVER = TOOLS / "bin" / "fpgascore-bench"
GO_BUILD = ["bash", "-c", "source scripts/go-env.sh && cd go && go build -o ../.tools/bin/fpgascore-bench ./cmd/fpgascore-bench"]
BUILD = {
    "native": GO_BUILD,  # the native server is the Go bench binary's serve mode
    "go": GO_BUILD,
    "csharp": ["dotnet", "build", "csharp/FpgaScore.Bench/FpgaScore.Bench.csproj", "-c", "Release",
               "-o", str(TOOLS / "csharp-bench"), "--nologo", "-v", "quiet"],
}
RUN = {
    "python": [os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3"), str(ROOT / "python" / "benchmarks" / "fpgascore_bench.py")],
    "go": [str(TOOLS / "bin" / "fpgascore-bench")],
    "csharp": ["dotnet", str(TOOLS / "csharp-bench" / "FpgaScore.Bench.dll")],
}
# A paired process: phases of 20 calls (at least 4 per worker, so that a phase at concurrency
# 16 is not only ramp-up and drain), after 300 warm-up calls per side.
PHASE_CALLS = 20
WARMUP_CALLS = 300
PAYLOAD_FLOOR = {"jpeg": "jpeg-150k", "batch8": "batch-8", "tensor": "tensor-602112"}


def run_paired(language, modes, payload, concurrency, server, tls, ca, calls) -> tuple:
    """One paired process of the language's bench command (--mode A/B): A's and B's results."""
    command = RUN[language] + ["--host", "127.0.0.1", "--port", str(server.port), "--payload", payload,
                               "--image", str(IMAGE), "--concurrency", str(concurrency), "--calls", str(calls),
                               "--mode", "/".join(modes), "--phase-calls", str(max(PHASE_CALLS, 4 * concurrency)),
                               # per worker: WARMUP_CALLS in all, so that JITs (.NET's tiers) reach steady state
                               "--warmup", str(-(-WARMUP_CALLS // concurrency))]
    if tls:
        command += ["--tls", "--ca", str(ca), "--key-env", KEY_ENV]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr[-800:]}")
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()[-2:]]
    if [line.get("side") for line in lines] != ["a", "b"] or [line["mode"] for line in lines] != list(modes):
        raise RuntimeError(f"{' '.join(command)} printed {result.stdout[-800:]!r}, not sides a and b")
    return lines[0], lines[1]


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
    row["floor_p50_ms"] = floor[PAYLOAD_FLOOR[payload]]["p50_ms"]
    row["client_p50_over_floor"] = row["client_p50_ms"] / row["floor_p50_ms"]
    print(f"{server_name:9} {language:7} {'tls' if tls_on else 'plain':5} {payload:7} c={concurrency:<3} "
          f"client p50 {row['client_p50_ms']:7.3f} ms  stub p50 {row['stub_p50_ms']:7.3f} ms  "
          f"ratio {row['ratio_p50']:.3f} ({', '.join(f'{r:.2f}' for r in row['ratios_p50'])})  "
          f"{row['client_p50_over_floor']:6.1f}x floor  "
          f"cpu/call client {row['client_cpu_ms_per_call']:.3f} ms stub {row['stub_cpu_ms_per_call']:.3f} ms  "
          f"client {row['client_throughput_per_s']:.0f}/s", flush=True)
    return row


def noise_row(args, server_name, language, payload, concurrency, server) -> dict:
    """The ratio measurement's own noise: the same procedure as measure_row with the stub on
    both sides (`--mode stub/stub`, an A/A test); its ratio would be 1.000 on a quiet machine."""
    ratios = []
    for _ in range(args.reps):
        a, b = run_paired(language, ("stub", "stub"), payload, concurrency, server, False, None, args.calls)
        ratios.append(a["p50_ms"] / b["p50_ms"])
    row = {"server": server_name, "language": language, "payload": payload, "concurrency": concurrency,
           "aa_ratio_p50": statistics.median(ratios), "aa_ratios": ratios}
    print(f"A/A {server_name:9} {language:7} plain {payload:7} c={concurrency:<3} stub/stub p50 ratio "
          f"{row['aa_ratio_p50']:.3f} (reps {', '.join(f'{r:.3f}' for r in ratios)})", flush=True)
    return row


def noise_table(noise) -> str:
    table = ["| server | language | payload | conc. | stub/stub p50 (median of reps) | each rep (one process) |",
             "|---|---|---|---|---|---|"]
    for n in noise:
        table.append(f"| {n.get('server', 'reference')} | {n['language']} | {n['payload']} | {n['concurrency']} | {n['aa_ratio_p50']:.3f} | "
                     f"{', '.join(f'{r:.3f}' for r in n['aa_ratios'])} |")
    return "\n".join(table)


def full_table(rows) -> str:
    table = ["| server | language | transport | payload | conc. | client p50 ms | stub p50 ms | client/stub p50 | "
             "each rep | client p99 ms | client ÷ TCP floor (p50) | CPU ms/call client / stub | client calls/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        reps = ", ".join(f"{x:.2f}" for x in r.get("ratios_p50", ()))
        table.append(f"| {r['server']} | {r['language']} | {'TLS' if r['tls'] else 'plaintext'} | {r['payload']} | "
                     f"{r['concurrency']} | {r['client_p50_ms']:.3f} | {r['stub_p50_ms']:.3f} | {r['ratio_p50']:.3f} | "
                     f"{reps} | "
                     f"{r['client_p99_ms']:.2f} | {r['client_p50_over_floor']:.1f}× | "
                     f"{r['client_cpu_ms_per_call']:.3f} / {r['stub_cpu_ms_per_call']:.3f} | "
                     f"{r['client_throughput_per_s']:.0f} |")
    return "\n".join(table)


def summary_table(rows) -> str:
    """Per server and language: the client/stub p50 ratios of its rows, and the plaintext
    150 KB call at concurrency 1 as a multiple of the TCP floor."""
    table = ["| server | language | client/stub p50: median (min–max) over its rows | rows ≤ 1.05 | "
             "150 KB plaintext c=1: client p50 ms | ÷ TCP echo floor |",
             "|---|---|---|---|---|---|"]
    for server in dict.fromkeys(r["server"] for r in rows):
        for language in dict.fromkeys(r["language"] for r in rows if r["server"] == server):
            mine = [r for r in rows if r["server"] == server and r["language"] == language]
            ratios = [r["ratio_p50"] for r in mine]
            single = next((r for r in mine if r["payload"] == "jpeg" and not r["tls"] and r["concurrency"] == 1), None)
            latency = f"{single['client_p50_ms']:.3f} | {single['client_p50_over_floor']:.1f}×" if single else "– | –"
            table.append(f"| {server} | {language} | {statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) | "
                         f"{sum(r <= 1.05 for r in ratios)} of {len(ratios)} | {latency} |")
    return "\n".join(table)


def floor_line(floor) -> str:
    return "TCP floor p50 (echo / exchange): " + ", ".join(
        f"{name} {f['p50_ms']:.3f} / {f['exchange_p50_ms']:.3f} ms" for name, f in floor.items())


def markdown(rows, floor, noise=()) -> str:
    parts = [summary_table(rows), floor_line(floor)]
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
    parser.add_argument("--from-json", metavar="FILE", help="only print the tables of an earlier run's --json")
    args = parser.parse_args()
    if args.from_json:
        earlier = json.loads(pathlib.Path(args.from_json).read_text())
        print(markdown(earlier["rows"], earlier["floor"], earlier.get("noise", ())))
        return
    languages = [lang for lang in args.languages.split(",") if lang]
    servers = [name for name in args.servers.split(",") if name]
    if set(servers) - {"reference", "native"}:
        parser.error("--servers takes reference and/or native")
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
            for language in languages:
                for tls_on in (False, True):
                    for payload in ("jpeg", "batch8", "tensor"):
                        for concurrency in (1, 16):
                            rows.append(measure_row(args, server_name, language, tls_on, payload, concurrency,
                                                    secure if tls_on else plain, tls.ca, floor))
    text = markdown(rows, floor, noise)
    print(text)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text + "\n")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"floor": floor, "rows": rows, "noise": noise}, indent=1))


if __name__ == "__main__":
    main()
