"""--driver NAME=COMMAND beside the built-in drivers, --known-failing NAME=FILE, and the
version handshake, through scripts/conformance.sh."""
from __future__ import annotations

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
