#!/usr/bin/env bash
# Runs the conformance matrix: every client, every case, against the reference server.
#   scripts/conformance.sh                      # containerized server (the main job)
#   scripts/conformance.sh --server=process     # quick local run without containers
#   scripts/conformance.sh --language go --case 'tls-*'
# Sets the machine up first (scripts/setup.sh: idempotent, quick when done); set
# FPGASCORE_SKIP_SETUP=1 to skip that. Reports: out/conformance/<run>/.
set -euo pipefail
export FPGASCORE_CALLER_DIR="${FPGASCORE_CALLER_DIR:-$PWD}"  # --driver/--known-failing paths are relative to it
cd "$(dirname "$0")/.."
source scripts/lib.sh
[[ "${FPGASCORE_SKIP_SETUP:-0}" == 1 ]] || scripts/setup.sh
export PYTHONPATH="$REPO_ROOT/python/src:$REPO_ROOT/conformance/server/src:$REPO_ROOT/conformance/runner/src"
server=container
for arg in "$@"; do [[ "$arg" == "--server=process" || "$arg" == "process" ]] && server=process; done
# A caller that already set up the engine (scripts/test-all.sh) passes DOCKER_HOST and keeps
# ownership of it: only an engine this script set up is stopped when it ends.
if [[ "$server" == container && -z "${DOCKER_HOST:-}" ]]; then
  DOCKER_HOST=$(scripts/containers-setup.sh | tail -n 1)
  export DOCKER_HOST
  trap 'scripts/containers-setup.sh --stop' EXIT
fi
"$PYTHON" -m fpgascore_conformance "$@"
