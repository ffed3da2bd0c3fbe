"""What a maintainer reads from a run: a progress line per case with N/M and the time, the
summary once (the matrix goes to matrix.md, not twice to the terminal), --repeat's pass rates."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .conftest import PYTHON, RAW_STUB, run_conformance


def test_progress_summary_once_and_repetitions(workdir, tmp_path):
    outcome = run_conformance(["--driver", f"raw={PYTHON} {RAW_STUB}", "--repeat", "2",
                               "--case", "image-jpeg@plaintext", "--case", "retry-aborted-then-ok"],
                              cwd=workdir, out=tmp_path / "out")
    progress = [line for line in outcome.stdout.splitlines() if re.match(r"\[\d/4 \d+:\d\d\] raw ", line)]
    assert [line.split("]")[0] + "]" for line in progress][0].startswith("[1/4 ")
    assert len(progress) == 4 and progress[-1].startswith("[4/4 ")
    assert sum(" run 2 " in line for line in progress) == 2
    assert "| case |" not in outcome.stdout, "the matrix is in matrix.md only"
    assert outcome.stdout.count("raw: 3 passed, 2 failed") == 1  # the two cases twice, and the key scan
    assert "raw / retry-aborted-then-ok (run 2):" in outcome.stdout
    assert re.search(r"matrix: \d+ results in \d+\.\d s", outcome.stdout)
    assert "| `retry-aborted-then-ok` | ❌ 0/2 |" in outcome.matrix
    assert "| `image-jpeg@plaintext` | ✅ 2/2 |" in outcome.matrix
    junit = ET.parse(next((tmp_path / "out").glob("*/junit.xml"))).getroot()
    names = [case.get("name") for case in junit.iter("testcase")]
    assert "image-jpeg@plaintext (run 2)" in names and outcome.returncode == 1
