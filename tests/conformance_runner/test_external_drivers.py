"""--driver NAME=COMMAND beside the built-in drivers, --known-failing NAME=FILE, and the
version handshake, through scripts/conformance.sh."""
from __future__ import annotations

import json

from .conftest import PYTHON, RAW_STUB, run_conformance

FUTURE_DRIVER = """\
import sys
sys.stdin.readline()
print('{"protocolVersion": "2.0", "driver": "from-the-future", "language": "python"}', flush=True)
for line in sys.stdin:
    print('{"id": "never-used", "results": []}', flush=True)
"""

OLD_DRIVER = """\
import json, sys
for line in sys.stdin:  # the JSON protocol before 1.0: no handshake, answers any line
    print(json.dumps({"id": None, "results": [], "error": "bad request: 'host' and 'port' are required"}), flush=True)
"""

# The raw stub behind a relay whose first call after the Hello is 3 s late: a runtime's cold
# start (a fresh `dotnet` on a loaded host takes seconds over its first call).
COLD_START_DRIVER = """\
import subprocess, sys, time
stub = subprocess.Popen([sys.executable, sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        text=True, bufsize=1)
for number, line in enumerate(sys.stdin):
    if number == 1:
        time.sleep(3)
    stub.stdin.write(line)
    stub.stdin.flush()
    sys.stdout.write(stub.stdout.readline())
    sys.stdout.flush()
"""


def test_external_beside_builtin_with_known_failing(workdir, tmp_path):
    (workdir / "raw-known.txt").write_text("# the raw stub does not retry\nretry-aborted-*\n")
    outcome = run_conformance(
        ["--language", "python", "--driver", f"raw={PYTHON} {RAW_STUB}", "--known-failing", "raw=raw-known.txt",
         "--case", "retry-aborted-then-ok", "--case", "image-jpeg@plaintext"], cwd=workdir, out=tmp_path / "out")
    assert outcome.statuses("python") == {"retry-aborted-then-ok": "pass", "image-jpeg@plaintext": "pass",
                                          "no-key-in-any-log": "pass"}
    assert outcome.statuses("raw") == {"retry-aborted-then-ok": "xfail", "image-jpeg@plaintext": "pass",
                                       "no-key-in-any-log": "pass"}
    assert "| case | python | raw |" in outcome.matrix
    assert outcome.returncode == 0, outcome.stdout[-2000:]


def test_a_known_failing_case_that_passes_fails_the_run(workdir, tmp_path):
    (workdir / "stale.txt").write_text("image-jpeg@plaintext\n")
    outcome = run_conformance(["--driver", f"raw={PYTHON} {RAW_STUB}", "--known-failing", "raw=stale.txt",
                               "--case", "image-jpeg@plaintext"], cwd=workdir, out=tmp_path / "out")
    assert outcome.statuses("raw")["image-jpeg@plaintext"] == "xpass"
    assert set(name for name, _ in outcome.results) == {"raw"}, "with --driver and no --language: no built-in"
    assert outcome.returncode == 1


def test_another_major_version_is_refused(workdir, tmp_path):
    (workdir / "future.py").write_text(FUTURE_DRIVER)
    (workdir / "old.py").write_text(OLD_DRIVER)
    outcome = run_conformance(["--driver", f"future={PYTHON} future.py", "--driver", f"old={PYTHON} old.py",
                               "--case", "image-jpeg@plaintext", "--case", "auth-none"], cwd=workdir, out=tmp_path / "out")
    assert outcome.returncode == 1
    for case in ("image-jpeg@plaintext", "auth-none"):
        future = outcome.results[("future", case)]
        assert future["status"] == "fail"
        assert "refused: it speaks driver protocol 2.0, this runner speaks 1.1" in future["problems"][0]
        old = outcome.results[("old", case)]
        assert old["status"] == "fail" and "names no protocol_version" in old["problems"][0]


def test_a_drivers_cold_first_call_is_its_warm_up_not_a_case(workdir, tmp_path):
    """caller-cancels allows 2.5 s: judged on a driver's slow first call, it would fail."""
    (workdir / "cold.py").write_text(COLD_START_DRIVER)
    outcome = run_conformance(["--driver", f"cold={PYTHON} cold.py {RAW_STUB}",
                               "--case", "caller-cancels@plaintext"], cwd=workdir, out=tmp_path / "out")
    assert outcome.statuses("cold") == {"caller-cancels@plaintext": "pass", "no-key-in-any-log": "pass"}, \
        outcome.stdout[-2000:]
    records = [json.loads(line) for line in (outcome.directory / "server-plain.log").read_text().splitlines()
               if line.startswith("{")]
    cases = [r["case"] for r in records if r.get("event") == "predict" and r.get("case")]
    assert cases and cases[0].endswith(":cold:warm-up:default"), cases
    assert [r["code"] for r in records if r.get("case") == cases[0]] == ["OK"]
    assert any(case.endswith(":cold:caller-cancels@plaintext") for case in cases[1:]), cases
