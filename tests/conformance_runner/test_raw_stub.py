"""The judge is tested: the whole suite against a driver that is only the generated gRPC stub
(conformance/drivers/raw_stub/driver.py). It must fail exactly the cases that need a client's
own logic (listed, with why, in conformance/known_failing/raw-stub.txt) and pass the rest.
When this test fails after a case was added or changed, decide which side the case is on: a
case that needs client logic goes into that list with its reason; otherwise the case (or the
judge) asks for something a plain gRPC call cannot be expected to do."""
from __future__ import annotations

import time

from .conftest import PYTHON, RAW_STUB, RAW_STUB_KNOWN_FAILING, case_ids, run_conformance

SECRET_SCAN = "no-key-in-any-log"


def listed_failures() -> dict:
    """conformance/known_failing/raw-stub.txt: case id -> why the raw stub fails it."""
    listed = {}
    for line in RAW_STUB_KNOWN_FAILING.read_text().splitlines():
        case, _, why = line.partition("#")
        if case.strip():
            listed[case.strip()] = why.strip()
    return listed


def test_raw_stub_fails_exactly_where_client_logic_is_needed(workdir, tmp_path):
    started = time.monotonic()
    outcome = run_conformance(["--jobs", "4", "--driver", f"raw={PYTHON} {RAW_STUB}",
                               "--known-failing", f"raw={RAW_STUB_KNOWN_FAILING}"], cwd=workdir, out=tmp_path / "out")
    elapsed = time.monotonic() - started
    statuses = outcome.statuses("raw")
    assert set(statuses) == set(case_ids()) | {SECRET_SCAN}, "every case ran for the raw column"
    assert "raw = raw-stub-driver (grpcio generated stub" in outcome.matrix
    listed = listed_failures()
    assert listed and all(listed.values()), "every listed case says why"
    problems = {case: outcome.results[("raw", case)]["problems"] for case, status in statuses.items() if status == "fail"}
    assert not problems, f"the raw stub fails cases that should not need client logic: {problems}"
    passing = sorted(case for case, status in statuses.items() if status == "xpass")
    assert not passing, f"the raw stub passes cases that should need client logic (the suite no longer tells): {passing}"
    assert sorted(case for case, status in statuses.items() if status == "xfail") == sorted(listed)
    assert outcome.returncode == 0, "every failure is a listed one: the run passes"
    print(f"raw stub run: {len(statuses)} results, {len(listed)} failing as listed, {elapsed:.0f} s")
