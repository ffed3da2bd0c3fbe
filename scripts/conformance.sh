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
for arg in "$@"; do
  case "$arg" in
    --server=process | process) server=process ;;
    --list | --write-inventory) server=none ;;  # about the cases only: no server at all
    --target | --target=*) server=none ;;        # a server that is already running: none to start
  esac
done
# Only a container run needs the engine: it holds podman's API service for its own lifetime
# (shared with concurrent runs; the last holder stops a service a run here started) and a
# process run starts none. A DOCKER_HOST that answers elsewhere is used as it is.
if [[ "$server" == container ]]; then
  trap 'scripts/containers-setup.sh --release --holder $$' EXIT
  DOCKER_HOST=$(scripts/containers-setup.sh --holder $$ | tail -n 1)
  export DOCKER_HOST
fi
"$PYTHON" -m fpgascore_conformance "$@"
