"""The Python bench command (python/benchmarks/fpgascore_bench.py) that bench/clients.py runs:
its single and paired modes against a real loopback server that records who called."""
from __future__ import annotations

import json
import subprocess
from typing import List

import pytest

from conftest import PYTHON, REPO
from fake_server import FakeServer

BENCH = REPO / "python" / "benchmarks" / "fpgascore_bench.py"


def bench(fake: FakeServer, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(BENCH), "--port", str(fake.port), "--image", str(BENCH), *args],
                          capture_output=True, text=True, timeout=120)


def callers(fake: FakeServer) -> List[str]:
    """Who made each call, in the order the server received them: client or stub (user agent)."""
    return ["client" if "fpgascore-python" in call.metadata.get("user-agent", "") else "stub" for call in fake.calls]


def test_paired_mode_alternates_abba_phases_with_a_barrier(fake):
    # 2 workers, 4 calls a phase (2 each), at least 10 calls a side: 3 phases a side.
    result = bench(fake, "--mode", "client/stub", "--concurrency", "2", "--calls", "10", "--warmup", "1",
                   "--phase-calls", "4")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["mode"], line["side"], line["calls"]) for line in lines] == [("client", "a", 12), ("stub", "b", 12)]
    assert all(line["p50_ms"] > 0 and line["cpu_ms_per_call"] >= 0 for line in lines)
    order = callers(fake)
    assert sorted(order[:4]) == ["client", "client", "stub", "stub"]  # warm-up: one call per worker and side
    phases = [order[i:i + 4] for i in range(4, len(order), 4)]
    assert phases == [[side] * 4 for side in ("client", "stub", "stub", "client", "client", "stub")]


def test_stub_against_itself_and_single_mode(fake):
    result = bench(fake, "--mode", "stub/stub", "--concurrency", "1", "--calls", "3", "--warmup", "0")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["side"] for line in result.stdout.splitlines()] == ["a", "b"]
    single = bench(fake, "--mode", "client", "--concurrency", "1", "--calls", "3", "--warmup", "0")
    assert single.returncode == 0, single.stderr
    [line] = [json.loads(line) for line in single.stdout.splitlines()]
    assert line["mode"] == "client" and line["calls"] == 3 and "side" not in line


@pytest.mark.parametrize("args", [["--mode", "client/foo"], ["--mode", "client/stub/stub"], ["--phase-calls", "0"]])
def test_bad_flags_exit_2(fake, args):
    result = bench(fake, *args)
    assert result.returncode == 2 and result.stdout == ""


def test_a_failed_call_stops_the_run_with_exit_1(fake):
    fake.server.stop(grace=None)
    result = bench(fake, "--mode", "client/stub", "--concurrency", "2", "--calls", "4", "--warmup", "1")
    assert result.returncode == 1 and result.stdout == "" and "a call failed" in result.stderr
