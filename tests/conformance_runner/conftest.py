"""Running the conformance runner the way a user does (scripts/conformance.sh, servers as
local processes) and reading what it wrote."""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
PYTHON = os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")
RAW_STUB = REPO / "conformance" / "drivers" / "raw_stub" / "driver.py"
RAW_STUB_KNOWN_FAILING = REPO / "conformance" / "known_failing" / "raw-stub.txt"


@dataclasses.dataclass
class RunOutcome:
    returncode: int
    stdout: str
    results: Dict[Tuple[str, str], dict]   # (driver, case id) -> results.json entry
    matrix: str
    stderr: str = ""
    directory: Optional[pathlib.Path] = None   # the run's folder

    def statuses(self, driver: str) -> Dict[str, str]:
        return {case: r["status"] for (name, case), r in self.results.items() if name == driver}

    def failing(self, driver: str) -> List[str]:
        return sorted(case for case, status in self.statuses(driver).items() if status == "fail")


def run_conformance(args: Sequence[str], cwd: pathlib.Path, out: pathlib.Path, timeout: float = 600,
                    env: Optional[Dict[str, str]] = None) -> RunOutcome:
    """scripts/conformance.sh --server=process ARGS, run from CWD (not the repository), with
    ENV added to this process's environment."""
    env = {**{k: v for k, v in os.environ.items() if k not in ("FPGASCORE_CALLER_DIR", "PYTHONPATH")}, **(env or {})}
    env["FPGASCORE_SKIP_SETUP"] = "1"
    done = subprocess.run([str(REPO / "scripts" / "conformance.sh"), "--server=process", "--out", str(out), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    runs = sorted(out.glob("*/results.json"))
    if len(runs) != 1:
        raise AssertionError(f"expected one run under {out}, found {runs}\nstdout:\n{done.stdout[-3000:]}\n"
                             f"stderr:\n{done.stderr[-3000:]}")
    entries = json.loads(runs[0].read_text())
    return RunOutcome(done.returncode, done.stdout,
                      {(e["language"], e["case_id"]): e for e in entries},
                      (runs[0].parent / "matrix.md").read_text(), done.stderr, runs[0].parent)


def case_ids(patterns: Sequence[str] = ()) -> List[str]:
    """The ids of the cases the runner would run for --case PATTERNS."""
    from fpgascore_conformance.cases import load_cases, select  # on sys.path by tests/conftest.py
    return [case.id for case in select(load_cases(), patterns)]


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    """An empty directory to run from: drivers must not need the repository as their cwd."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder
