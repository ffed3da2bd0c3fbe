"""The options are typed keyword arguments: a type checker (mypy, as users run it) refuses a
misspelled or unknown option and a wrong type before the code runs."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"

GOOD = '''
import fpgascore
with fpgascore.PredictionClient("localhost", 50051, use_ssl=True, access_token="k", timeout=5.0,
                                metadata=[("x-tenant", "t")], retry_policy=fpgascore.RetryPolicy(max_attempts=2)) as c:
    scores = c.score_image(b"jpeg", timeout=1.0, metadata={"x-a": "b"}, call_info=fpgascore.CallInfo())
'''
BAD = {
    "use_tls=True": 'fpgascore.PredictionClient("localhost", 50051, use_tls=True)',
    "timout=5": 'fpgascore.PredictionClient("localhost", 50051, timout=5)',
    "timeout='5'": 'fpgascore.PredictionClient("localhost", 50051, timeout="5")',
    "metadata=42": 'fpgascore.AsyncPredictionClient("localhost", 50051, metadata=42)',
    "per-call retries=": 'fpgascore.PredictionClient("localhost", 50051).score_image(b"x", retries=2)',
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict:
    """One mypy run (it is slow) over a user's good code and bad code: error lines per file."""
    folder = tmp_path_factory.mktemp("typing")
    (folder / "good.py").write_text(GOOD)
    (folder / "bad.py").write_text("\n".join(["import fpgascore"] + [f"{call}  # {name}" for name, call in BAD.items()]))
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
                          "--no-error-summary", str(folder / "good.py"), str(folder / "bad.py")],
                         capture_output=True, text=True, env={"MYPYPATH": str(SRC), "PATH": "/usr/bin:/bin"},
                         timeout=600)
    errors: dict = {"good.py": [], "bad.py": [], "output": run.stdout + run.stderr}
    for line in run.stdout.splitlines():
        if ": error:" in line:
            errors[pathlib.Path(line.split(":")[0]).name].append(line)
    return errors


def test_typed_options_pass_the_type_checker(checked):
    assert not checked["good.py"], checked["output"]


def test_unknown_or_mistyped_options_are_caught(checked):
    flagged = {int(line.split(":")[1]) for line in checked["bad.py"]}
    missed = [name for line_no, name in enumerate(BAD, start=2) if line_no not in flagged]
    assert not missed, f"mypy let these through: {missed}\n{checked['output']}"
