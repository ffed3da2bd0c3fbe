"""bench/workers/python_worker.py against the real reference server (null model): it runs the
plan it is told and reports one timing per planned call, phase by phase; a bad plan or a failed
call ends it with a clear error, a non-zero exit and nothing on stdout."""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import clients  # noqa: E402

KEY = "bench-worker-test-key"


@pytest.fixture(scope="module")
def servers(tls):
    common = dict(conformance=False, extra_env={"FPGASCORE_NULL_MODEL": "1"})
    with EmulatorProcess(ServerConfig(**common)) as plain, \
            EmulatorProcess(ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key=KEY,
                                         require_auth=True, **common)) as secure:
        yield plain, secure


def short_plan(modes, payload, port, concurrency=2, calls=6, **tls):
    plan = clients.make_plan(modes, payload, concurrency, calls, port=port, **tls)
    plan["phases"] = plan["phases"][:2]  # one phase a side
    for phase in plan["phases"]:
        phase["calls_per_worker"] = 2
    plan["warmup"] = 1
    return plan


def worker(plan, env=None) -> subprocess.CompletedProcess:
    line = plan if isinstance(plan, str) else json.dumps(plan)
    return subprocess.run(clients.WORKER["python"], input=line + "\n", capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("payload", ["jpeg", "batch8", "tensor"])
def test_the_worker_reports_every_planned_call_per_phase(servers, payload):
    plan = short_plan(("client", "stub"), payload, servers[0].port)
    assert [p["side"] for p in plan["phases"]] == ["a", "b"]
    plan["phases"] += [{"side": "b", "calls_per_worker": 3}, {"side": "a", "calls_per_worker": 1}]
    report = clients.run_worker("python", plan)
    assert report["language"] == "python"
    assert [(p["side"], len(p["latencies_ms"])) for p in report["phases"]] == [("a", 4), ("b", 4), ("b", 6), ("a", 2)]
    a, b = clients.side_results(plan, report)
    assert (a["mode"], a["calls"], b["mode"], b["calls"]) == ("client", 6, "stub", 10)
    assert all(p["wall_ms"] > 0 and p["cpu_ms"] >= 0 for p in report["phases"])


def test_the_worker_sends_the_key_over_tls(servers, tls):
    secure = servers[1]
    plan = short_plan(("stub", "client"), "jpeg", secure.port, tls=True, ca=tls.ca, key_env="BENCH_TEST_KEY")
    report = json.loads(worker(plan, {"BENCH_TEST_KEY": KEY}).stdout)
    assert [p["side"] for p in report["phases"]] == ["a", "b"]
    refused = worker(plan, {"BENCH_TEST_KEY": "not-the-key"})
    assert refused.returncode == 1 and refused.stdout == "" and "a call failed" in refused.stderr
    assert "UNAUTHENTICATED" in refused.stderr and "not-the-key" not in refused.stderr


def test_a_failed_call_exits_1():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = worker(short_plan(("client", "stub"), "jpeg", port))
    assert result.returncode == 1 and result.stdout == "" and "a call failed" in result.stderr


@pytest.mark.parametrize("spoil, message", [
    (lambda p: "not json", "not one JSON line"),
    (lambda p: p.pop("concurrency") and p, "'concurrency'"),
    (lambda p: p["sides"][1].update(mode="raw") or p, "mode client or stub"),
    (lambda p: p["sides"][1].update(name="a") or p, "distinct names"),
    (lambda p: p["phases"][0].update(side="c") or p, "name a side"),
    (lambda p: p["phases"][1].update(calls_per_worker=0) or p, "calls_per_worker >= 1"),
    (lambda p: p.update(payload="png") or p, "'payload'"),
    (lambda p: p.update(key_env="BENCH_TEST_KEY") or p, "need 'tls'"),
])
def test_a_bad_plan_exits_2_and_says_why(spoil, message):
    plan = spoil(short_plan(("client", "stub"), "jpeg", 1))
    result = worker(plan if isinstance(plan, str) else json.dumps(plan))
    assert result.returncode == 2 and result.stdout == ""
    assert "bad plan" in result.stderr and message in result.stderr


@pytest.mark.parametrize("payload", ["jpeg", "batch8", "tensor"])
def test_the_asyncio_worker_reports_every_planned_call_per_phase(servers, payload):
    """"asyncio": true: the asyncio client and a grpc.aio stub, the workers tasks of one loop."""
    plan = short_plan(("stub", "client"), payload, servers[0].port, concurrency=3)
    plan["asyncio"] = True
    plan["phases"] += [{"side": "a", "calls_per_worker": 1}]
    report = clients.run_worker("python", plan)
    assert [(p["side"], len(p["latencies_ms"])) for p in report["phases"]] == [("a", 6), ("b", 6), ("a", 3)]
    a, b = clients.side_results(plan, report)
    assert (a["mode"], a["calls"], b["mode"], b["calls"]) == ("stub", 9, "client", 6)
    assert all(p["wall_ms"] > 0 and p["cpu_ms"] >= 0 for p in report["phases"])


def test_the_asyncio_worker_sends_the_key_over_tls_and_a_failed_call_exits_1(servers, tls):
    plan = short_plan(("client", "stub"), "jpeg", servers[1].port, tls=True, ca=tls.ca, key_env="BENCH_TEST_KEY")
    plan["asyncio"] = True
    report = json.loads(worker(plan, {"BENCH_TEST_KEY": KEY}).stdout)
    assert [p["side"] for p in report["phases"]] == ["a", "b"]
    refused = worker(plan, {"BENCH_TEST_KEY": "not-the-key"})
    assert refused.returncode == 1 and refused.stdout == "" and "UNAUTHENTICATED" in refused.stderr
    assert "not-the-key" not in refused.stderr


def test_the_clients_plan_of_python_asyncio_says_asyncio():
    plan = clients.make_plan(("client", "stub"), "jpeg", 64, 100, port=1, extra=clients.PLAN_EXTRA["python-asyncio"])
    assert plan["asyncio"] is True and plan["concurrency"] == 64
    assert "asyncio" not in clients.make_plan(("client", "stub"), "jpeg", 1, 10, port=1)
    spoiled = short_plan(("client", "stub"), "jpeg", 1)
    spoiled["asyncio"] = "yes"
    result = worker(spoiled)
    assert result.returncode == 2 and "'asyncio' must be true or false" in result.stderr
