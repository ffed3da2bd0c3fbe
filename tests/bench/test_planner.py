"""bench/clients.py's planning (the phases every language's worker is told to run) and its
statistics (what the workers' raw timings say), without any worker or server."""
from __future__ import annotations

import pathlib
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import clients  # noqa: E402


def sides_of(phases):
    return "".join("ab"[side] for side, _ in phases)


def test_phases_alternate_abba_and_both_sides_get_the_same_calls():
    phases = clients.plan_phases(calls=800, concurrency=1)
    assert {n for _, n in phases} == {20}  # PHASE_CALLS a phase, all on the one worker
    assert len(phases) == 80 and sides_of(phases) == "abba" * 20
    # At concurrency 16 a phase is at least 4 calls per worker; enough phases for 800 calls a side.
    phases = clients.plan_phases(calls=800, concurrency=16)
    assert {n for _, n in phases} == {4} and len(phases) == 2 * 13  # 13 * 64 = 832 >= 800
    assert sides_of(phases) == ("abba" * 7)[:26]
    # Fewer calls than a phase holds: still two ABBA blocks.
    assert clients.plan_phases(calls=3, concurrency=2) == [(0, 10), (1, 10), (1, 10), (0, 10)] * 2
    # At concurrency 64 a worker makes 16 calls a phase (a phase of 4 a worker was mostly its start's burst and its
    # drain), 4,096 calls a side however few are asked for.
    phases = clients.plan_phases(calls=800, concurrency=64)
    assert {n for _, n in phases} == {16} and len(phases) == 8 and sides_of(phases) == "abbaabba"
    with pytest.raises(ValueError):
        clients.plan_phases(calls=0, concurrency=1)


def test_plan_names_the_sides_and_splits_the_warmup_over_the_workers():
    plan = clients.make_plan(("stub", "client"), "batch8", 16, 100, port=4321, tls=True, ca="/ca.pem",
                             key_env="VAR")
    assert plan["sides"] == [{"name": "a", "mode": "stub"}, {"name": "b", "mode": "client"}]
    assert plan["warmup"] == 19  # 300 warm-up calls a side in all, per worker rounded up
    assert (plan["port"], plan["payload"], plan["concurrency"], plan["tls"], plan["ca"], plan["key_env"]) == \
        (4321, "batch8", 16, True, "/ca.pem", "VAR")
    assert [(p["side"], p["calls_per_worker"]) for p in plan["phases"]] == [("a", 4), ("b", 4), ("b", 4), ("a", 4)] * 2
    for bad in (("client",), ("client", "stub", "stub"), ("client", "raw")):
        with pytest.raises(ValueError):
            clients.make_plan(bad, "jpeg", 1, 10, port=1)


def test_percentile_interpolates_like_numpy():
    values = list(np.random.default_rng(3).exponential(1.0, 101)) + [0.5, 7.0]
    for p in (0, 50, 90, 99, 100):
        assert clients.percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert clients.percentile([4.0], 99) == 4.0


def report_of(plan, latency_of_side, wall_ms=10.0, cpu_ms=4.0):
    return {"language": "test", "phases": [
        {"side": p["side"], "latencies_ms": [latency_of_side[p["side"]]] * (p["calls_per_worker"] * plan["concurrency"]),
         "wall_ms": wall_ms, "cpu_ms": cpu_ms} for p in plan["phases"]]}


def test_side_results_take_each_sides_own_phases():
    plan = clients.make_plan(("client", "stub"), "jpeg", 2, 80, port=1)  # 4 phases of 20 calls a side
    report = report_of(plan, {"a": 2.0, "b": 1.0})
    report["phases"][0]["latencies_ms"][0] = 100.0  # one slow call of side A
    report["phases"][0]["cpu_ms"] = 14.0
    a, b = clients.side_results(plan, report)
    assert (a["mode"], a["side"], a["calls"], b["mode"], b["calls"]) == ("client", "a", 80, "stub", 80)
    assert (a["p50_ms"], b["p50_ms"], b["p99_ms"]) == (2.0, 1.0, 1.0)
    assert a["p99_ms"] > 2.0
    assert a["throughput_per_s"] == pytest.approx(80 / 0.040)
    assert (a["cpu_ms_per_call"], b["cpu_ms_per_call"]) == (pytest.approx(26 / 80), pytest.approx(16 / 80))


@pytest.mark.parametrize("spoil, message", [
    (lambda r: r["phases"].pop(), "phases"),
    (lambda r: r["phases"][1].update(side="a"), "side"),
    (lambda r: r["phases"][2]["latencies_ms"].pop(), "latencies"),
    (lambda r: r["phases"][0]["latencies_ms"].__setitem__(0, -1), "number"),
    (lambda r: r["phases"][0].pop("cpu_ms"), "cpu_ms"),
])
def test_a_report_that_does_not_match_its_plan_is_refused(spoil, message):
    plan = clients.make_plan(("client", "stub"), "jpeg", 2, 40, port=1)
    report = report_of(plan, {"a": 2.0, "b": 1.0})
    clients.check_report(plan, report)
    spoil(report)
    with pytest.raises(clients.BadReport, match=message):
        clients.side_results(plan, report)


def test_a_row_is_the_median_over_reps_and_the_client_changes_sides(monkeypatch):
    told = []
    client_p50 = iter([1.10, 1.20, 1.00, 3.00])

    def fake_paired(language, modes, payload, concurrency, server, tls, ca, calls):
        told.append(modes)
        client = {"p50_ms": next(client_p50), "p90_ms": 2.0, "p99_ms": 3.0, "throughput_per_s": 100.0,
                  "cpu_ms_per_call": 0.5}
        stub = dict(client, p50_ms=1.0, cpu_ms_per_call=0.25)
        return (client, stub) if modes == ("client", "stub") else (stub, client)

    monkeypatch.setattr(clients, "run_paired", fake_paired)
    args = SimpleNamespace(reps=4, calls=10)
    floor = {"jpeg-150k": {"p50_ms": 0.5}}
    row = clients.measure_row(args, "native", "go", False, "jpeg", 1, None, None, floor)
    assert told == [("client", "stub"), ("stub", "client")] * 2
    assert row["ratios_p50"] == pytest.approx([1.10, 1.20, 1.00, 3.00])
    assert row["ratio_p50"] == pytest.approx(1.15) and row["client_p50_ms"] == pytest.approx(1.15)
    assert row["client_p50_over_floor"] == pytest.approx(2.3)
    assert (row["client_cpu_ms_per_call"], row["stub_cpu_ms_per_call"]) == (0.5, 0.25)
    assert "| native | go | plaintext | jpeg | 1 | 1.150 | 1.000 | 1.150 |" in clients.full_table([row])
