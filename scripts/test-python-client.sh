#!/usr/bin/env bash
# Runs the Python client's tests (python/tests) with Debian's Python against the reference
# server (scripts/run-emulator, started by the test fixtures on loopback). Fails when a test
# fails or when no test ran at all.
#
#   scripts/test-python-client.sh                 # everything
#   scripts/test-python-client.sh -k retry -x     # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export PYTHONPATH="$REPO_ROOT/python/src${PYTHONPATH:+:$PYTHONPATH}"
export GRPC_VERBOSITY="${GRPC_VERBOSITY:-ERROR}"
report=$(mktemp)
trap 'rm -f "$report"' EXIT

set +e
"$PYTHON" -m pytest python/tests -p no:cacheprovider --junitxml="$report" -o junit_family=xunit2 "$@"
status=$?
set -e

ran=$("$PYTHON" - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites))
PY
) || ran=0

if (( status == 5 )) || (( ran == 0 )); then
  die "no Python client test ran"
fi
if (( status != 0 )); then
  die "Python client tests failed (pytest exit $status)"
fi
log "Python client tests passed ($ran run)"
