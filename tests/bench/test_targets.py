"""bench/targets.py: make bench's table of targets from a run's JSON files, run as make bench
runs it (a subprocess on a run directory): each item's verdict, target 5 from test-all's
summary, and a malformed or oversized file named with what is wrong, never a traceback."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import clients  # noqa: E402
import targets  # noqa: E402


def item(name, met, goal="≤ 1", measured="0.5"):
    return {"target": name, "goal": goal, "measured": measured, "met": met}


def run_targets(run_dir, *args):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "targets.py"), str(run_dir), *args],
                          capture_output=True, text=True, timeout=60)


def rows_of(table: str) -> dict:
    """target -> (goal, measured, verdict) of the printed table."""
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and cells[0] not in ("target", "---|---|---|---"):
            out[cells[0]] = tuple(cells[1:])
    return out


def test_each_item_gets_its_verdict_and_files_without_targets_add_nothing(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"targets": [item("1. met", True, measured="0.4 ms"),
                                                             item("2. missed", False, measured="7 | 8")]}))
    (tmp_path / "b.json").write_text(json.dumps({"rows": [], "targets": [item("3. unknown", None)]}))
    (tmp_path / "tcp_floor.json").write_text(json.dumps({"jpeg": {"p50_ms": 0.1}}))  # no "targets"
    result = run_targets(tmp_path, "--no-test-all")
    assert result.returncode == 0 and result.stderr == ""
    rows = rows_of(result.stdout)
    assert rows == {"1. met": ("≤ 1", "0.4 ms", "met"), "2. missed": ("≤ 1", "7 \\| 8", "not met"),
                    "3. unknown": ("≤ 1", "0.5", "n/a")}
    assert "1 met, 1 not met, 1 n/a" in result.stdout


def test_the_table_is_in_the_issues_order_of_targets_whichever_file_holds_them(tmp_path):
    """clients.json (target 4) sorts before emulator-targets.json (1-3) by name; the table still
    reads 1, 2, 3, 4, then target 5 (CI), then what carries no number."""
    (tmp_path / "clients.json").write_text(json.dumps({"targets": [item("4. client cost", True)]}))
    (tmp_path / "emulator-targets.json").write_text(json.dumps({"targets": [
        item("1. fidelity", True), item("3. CPU per image", False), item("2. throughput", None)]}))
    (tmp_path / "zz.json").write_text(json.dumps({"targets": [item("a note", None)]}))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"suites": [{"name": "lint", "result": "passed", "seconds": 10}], "total_seconds": 10}))
    result = run_targets(tmp_path, "--test-all", str(summary))
    assert result.returncode == 0, result.stderr
    names = [name for name in rows_of(result.stdout)]
    assert [name.split(".")[0] for name in names[:4]] == ["1", "2", "3", "4"]
    assert names[4].startswith("5. CI") and names[5] == "a note"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    (json.dumps({"targets": {"target": "x"}}), "'targets' is dict, not a list"),
    (json.dumps({"targets": ["just text"]}), "'targets' item 0 is str, not an object"),
    (json.dumps({"targets": [item("ok", True), {"target": "x", "goal": "g", "met": True}]}),
     "'targets' item 1: 'measured' must be a non-empty string"),
    (json.dumps({"targets": [item("x", "yes")]}), "'met' must be true, false or null"),
    (json.dumps({"targets": [item("x", 1)]}), "'met' must be true, false or null"),
    (json.dumps({"targets": [{"target": "x", "goal": "g", "measured": "m"}]}), "'met' must be true, false or null"),
    (json.dumps({"targets": [item("x" * (targets.MAX_TEXT + 1), True)]}), "over the bound"),
    (json.dumps({"targets": [item(f"t{i}", True) for i in range(targets.MAX_ITEMS + 1)]}), "over the bound"),
    pytest.param("[" * 100_000 + "]" * 100_000, "not JSON", id="nested-too-deep"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None)
def test_a_malformed_file_is_named_with_what_is_wrong_and_the_rest_is_still_printed(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    (tmp_path / "good.json").write_text(json.dumps({"targets": [item("fine", True)]}))
    result = run_targets(tmp_path, "--no-test-all")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'bad.json'}" in result.stderr and message in result.stderr
    assert rows_of(result.stdout) == {"fine": ("≤ 1", "0.5", "met")}


def test_a_huge_file_is_refused_unread(tmp_path, monkeypatch):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # sparse: over the bound without writing it
        handle.truncate(targets.MAX_FILE_BYTES + 1)
    result = run_targets(tmp_path, "--no-test-all")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{huge}: {targets.MAX_FILE_BYTES + 1} bytes, over the" in result.stderr
    # Read in-process, a file that is small when looked at and grows is refused all the same.
    monkeypatch.setattr(targets, "MAX_FILE_BYTES", 10)
    (tmp_path / "other.json").write_text(json.dumps({"targets": []}))
    with pytest.raises(targets.TargetsError, match="over the 10-byte bound"):
        targets.read_json(tmp_path / "other.json")


def summary(suites, total):
    return {"finished": "2026-12-01 17:00 UTC", "total_seconds": total,
            "suites": [{"name": n, "result": r, "seconds": s} for n, r, s in suites]}


@pytest.mark.parametrize("suites, total, verdict, words", [
    ([(n, "passed", 20) for n in targets.ALL_SUITES], 290, "met", "290 s (generated 20 s, lint 20 s"),
    ([(n, "passed", 60) for n in targets.ALL_SUITES], 540, "not met", "540 s"),
    ([("go", "passed", 30)], 35, "n/a", "only go ran"),
    ([(n, "FAILED" if n == "lint" else "passed", 5) for n in targets.ALL_SUITES], 50, "n/a", "failed: lint"),
])
def test_ci_time_is_target_5_from_the_test_all_summary(tmp_path, suites, total, verdict, words):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary(suites, total)))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_targets(run_dir, "--test-all", str(path))
    assert result.returncode == 0, result.stderr
    goal, measured, got = rows_of(result.stdout)["5. CI: scripts/test-all.sh, every suite"]
    assert (goal, got) == ("≤ 300 s", verdict) and words in measured


def test_ci_time_without_a_summary_is_n_a_and_a_bad_summary_is_named(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = run_targets(run_dir, "--test-all", str(tmp_path / "missing.json"))
    assert result.returncode == 0 and rows_of(result.stdout)["5. CI: scripts/test-all.sh, every suite"][2] == "n/a"
    (tmp_path / "bad.json").write_text(json.dumps({"suites": "all", "total_seconds": 3}))
    result = run_targets(run_dir, "--test-all", str(tmp_path / "bad.json"))
    assert result.returncode == 1 and "not a test-all summary" in result.stderr and "Traceback" not in result.stderr


def test_test_all_writes_the_summary_targets_reads(tmp_path):
    """scripts/test-all.sh's own summary (one quick suite; written here, not over a real run's) is one targets.py
    reads."""
    path = tmp_path / "summary.json"
    result = subprocess.run(["scripts/test-all.sh", "generated"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "FPGASCORE_SKIP_SETUP": "1",
                                              "FPGASCORE_TEST_ALL_SUMMARY": str(path)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    written = json.loads(path.read_text())
    assert [s["name"] for s in written["suites"]] == ["generated"] and written["suites"][0]["result"] == "passed"
    assert isinstance(written["total_seconds"], int) and written["finished"].endswith("UTC")
    assert targets.ci_target(path)["measured"].endswith("only generated ran")


def test_clients_target_4_items_have_the_shape_and_the_verdicts(tmp_path):
    def row(language, concurrency, diff, ratio=1.0, server="native"):
        return {"server": server, "language": language, "concurrency": concurrency, "cpu_diff_ms": diff,
                "ratio_p50": ratio, "ratio_p99": ratio, "client_cpu_ms_per_call": 0.3, "stub_cpu_ms_per_call": 0.3}

    rows = [row("python", 1, 0.02), row("python", 1, 0.05), row("python", 1, 0.01), row("python", 16, 0.5),
            row("go", 1, 0.03), row("python-asyncio", 64, 0.0, 1.04), row("python-asyncio", 64, 0.0, 1.06, "reference")]
    noise = [{"language": "go", "aa_ratios": [0.98, 1.03], "aa_cpu_diffs_ms": [-0.01, 0.004]}]
    items = {t["target"]: t for t in clients.targets(rows, noise)}
    (tmp_path / "clients.json").write_text(json.dumps({"targets": list(items.values())}))
    assert run_targets(tmp_path, "--no-test-all").returncode == 0  # the shape targets.py takes
    python = items["4. Python client − stub CPU per call, concurrency 1"]
    assert python["met"] is True and python["measured"].startswith("+0.0200 ms (median of 3 rows")  # c=16 not in it
    go = items["4. Go client − stub CPU per call, concurrency 1"]
    assert go["met"] is False and go["measured"].endswith("; A/A -0.0100 to +0.0040")  # its own noise beside it
    assert "A/A" not in python["measured"]  # no Python A/A rows in this run
    assert items["4. C# client − stub CPU per call, concurrency 1"]["met"] is None
    assert items["4. Python asyncio client ÷ grpc.aio stub, concurrency 64, p50"]["met"] is False  # one row over
    assert items["4. C# client ÷ raw stub, concurrency 64, p50"]["met"] is None
    assert items["4. (noise floor) A/A: the stub against itself, same procedure"]["measured"] == \
        "stub/stub p50 0.980–1.030 over 2 reps; CPU/call A − B -0.0100 to +0.0040 ms"
