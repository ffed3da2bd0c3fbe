"""Two runs started together on one machine both pass: their servers, ports, output folders
and driver processes are their own, and the drivers they build are built one at a time."""
from __future__ import annotations

import concurrent.futures

from .conftest import run_conformance


def test_two_runs_started_together_both_pass(tmp_path):
    def one(name: str):
        folder = tmp_path / name
        folder.mkdir()
        return run_conformance(["--language", "python,go", "--case", "image-jpeg@*", "--case", "auth-failover"],
                               cwd=folder, out=folder / "out")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(one, ["first", "second"]))
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.stdout[-2000:]
        assert set(outcome.statuses("go").values()) == {"pass"} and len(outcome.statuses("go")) == 4
