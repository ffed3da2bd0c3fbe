"""Soak: the server container at saturation with all three clients at once (their conformance
drivers as load generators, public client APIs only), for a while. Prints, over time, the
server's memory (RSS, from the engine's stats) and, at the end, the error mix per language
and the server-side latency percentiles. Not a test: it prints numbers.

    /usr/bin/python3 bench/soak.py --minutes 10            # the documented long run
    /usr/bin/python3 bench/soak.py --minutes 1 --check --service-time-ms 40
                                                           # CI's short run: exit 1 on an
                                                           # unexpected error or memory growth
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import pathlib
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("python/src", "conformance/server/src", "conformance/runner/src")]

import numpy as np  # noqa: E402

from fpgascore_conformance import drivers, emulator  # noqa: E402
from fpgascore_conformance.emulator import EmulatorContainer, ServerConfig  # noqa: E402
from fpgascore_conformance.protocol import code_name, pb  # noqa: E402

IMAGE = str(ROOT / "conformance" / "testdata" / "images" / "large-150k.jpg")
EXPECTED_CODES = {"OK", "RESOURCE_EXHAUSTED"}


def rss_mib(server: EmulatorContainer) -> float:
    stats = server._container.stats(stream=False)
    memory = stats.get("memory_stats", {})
    usage = memory.get("usage") or 0
    cache = (memory.get("stats") or {}).get("cache", 0) or 0
    return (usage - cache) / 2**20


def drive(language: str, port: int, until: float, out: pathlib.Path, codes: collections.Counter, lock) -> None:
    driver = drivers.DriverProcess(drivers.DRIVERS[language], {}, out / f"soak-{language}.stderr")
    batch = 0
    try:
        while time.monotonic() < until:
            batch += 1
            answer = driver.request(pb.DriverRequest(
                id=f"soak-{language}-{batch}", host="127.0.0.1", port=port, use_ssl=False,
                timeout_ms=10000, action=pb.ACTION_IMAGES, images=[IMAGE],
                calls=16, concurrency=8, top_k=1, session=f"soak-{language}",
                retry=pb.RetryPolicy(max_attempts=4, initial_backoff_ms=50, max_backoff_ms=500, multiplier=2.0),
            ), timeout=120)
            with lock:
                if answer.error or not answer.results:
                    codes[(language, "DRIVER_ERROR")] += 1
                for result in answer.results:
                    codes[(language, code_name(result.code))] += 1
    finally:
        driver.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--languages", default=",".join(drivers.LANGUAGES))
    parser.add_argument("--service-time-ms", type=float, default=10.0)
    parser.add_argument("--fpgas", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="exit 1 on unexpected codes or RSS growth > 100 MiB")
    parser.add_argument("--json", help="write the numbers here too")
    args = parser.parse_args()
    languages = drivers.languages_from(args.languages)
    out = pathlib.Path(tempfile.mkdtemp(prefix="fpgascore-soak-"))
    for language in languages:
        drivers.build(drivers.DRIVERS[language], out / f"build-{language}.log")
    image = emulator.build_image()
    config = ServerConfig(conformance=False, service_time_ms=args.service_time_ms, fpgas=args.fpgas,
                          queue_depth=args.queue_depth)
    codes: collections.Counter = collections.Counter()
    lock = threading.Lock()
    samples = []
    with EmulatorContainer(config, image=image) as server:
        started = time.monotonic()
        until = started + args.minutes * 60
        with concurrent.futures.ThreadPoolExecutor(len(languages)) as pool:
            loads = [pool.submit(drive, lang, server.port, until, out, codes, lock) for lang in languages]
            while not all(f.done() for f in loads):
                samples.append((time.monotonic() - started, rss_mib(server)))
                print(f"  t={samples[-1][0]:6.0f} s  server RSS {samples[-1][1]:7.1f} MiB  calls {sum(codes.values())}",
                      flush=True)
                time.sleep(max(2.0, args.minutes * 60 / 20))
            for future in loads:
                future.result()
        latencies = [json.loads(line)["latency_ms"] for line in server.logs().splitlines()
                     if '"event":"predict"' in line and '"code":"OK"' in line]
    # Memory after warm-up (thread stacks, allocator arenas, buffers) vs at the end.
    warm = next(rss for t, rss in samples if t >= samples[-1][0] * 0.25)
    first, last = warm, samples[-1][1]
    peak = max(rss for _, rss in samples)
    report = {
        "minutes": args.minutes, "languages": languages, "samples": samples,
        "rss_after_warmup_mib": first, "rss_last_mib": last, "rss_peak_mib": peak,
        "codes": {f"{lang}:{code}": n for (lang, code), n in sorted(codes.items())},
        "server_latency_ms": {q: float(np.percentile(latencies, q)) for q in (50, 90, 99)} if latencies else {},
    }
    print(f"soak: {args.minutes:g} min, {args.fpgas} FPGAs x {args.service_time_ms:g} ms, queue {args.queue_depth}, "
          f"{', '.join(languages)} at once")
    print(f"  server RSS after warm-up {first:.1f} MiB, last {last:.1f} MiB, peak {peak:.1f} MiB")
    for (lang, code), n in sorted(codes.items()):
        print(f"  {lang:7} {code:20} {n}")
    if latencies:
        lat = report["server_latency_ms"]
        print(f"  server-side latency of admitted calls: p50 {lat[50]:.1f} ms, p90 {lat[90]:.1f} ms, p99 {lat[99]:.1f} ms")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    unexpected = {key: n for key, n in codes.items() if key[1] not in EXPECTED_CODES}
    grew = last - first > 100
    if args.check and (unexpected or grew):
        print(f"soak check FAILED: unexpected codes {unexpected}, RSS growth {last - first:.1f} MiB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
