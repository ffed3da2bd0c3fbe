"""conformance/README.md's example driver runs: the block after its `snippet: run-by` marker is
saved as driver.py in a directory outside the repository and run through the runner."""
from __future__ import annotations

import re

from .conftest import PYTHON, REPO, run_conformance

README = REPO / "conformance" / "README.md"
MARKER = "<!-- snippet: run-by tests/conformance_runner/test_readme_example.py -->"  # tests/docs/test_snippets.py
CASES = ["image-*", "batch-*", "tls-*", "auth-primary", "auth-bearer", "auth-failover", "auth-plaintext-refused*",
         "key-unsendable-refused", "retry-unavailable-then-ok@*", "bad-corrupt-jpeg@plaintext"]


def example_driver() -> str:
    match = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```\n", README.read_text(), re.S)
    assert match, f"conformance/README.md lost its example driver block (after {MARKER})"
    return match.group(1) + "\n"


def test_readme_example_driver_passes_its_cases(workdir, tmp_path):
    (workdir / "driver.py").write_text(example_driver())
    args = ["--jobs", "3", "--driver", f"example={PYTHON} driver.py"]  # relative: run from workdir
    for pattern in CASES:
        args += ["--case", pattern]
    outcome = run_conformance(args, cwd=workdir, out=tmp_path / "out")
    assert outcome.failing("example") == [], outcome.matrix
    assert len(outcome.statuses("example")) > 30 and outcome.returncode == 0
    version = (REPO / "VERSION").read_text().strip()
    assert f"example = readme-example (fpgascore {version}, python; protocol 1.1)" in outcome.matrix


def test_readme_example_is_short():
    assert len(example_driver().splitlines()) <= 80
