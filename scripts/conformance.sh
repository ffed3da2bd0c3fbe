#!/usr/bin/env bash
# Runs the conformance matrix: every client, every case, against the reference server.
#   scripts/conformance.sh                      # containerized server (the main job)
#   scripts/conformance.sh --server=process     # quick local run without containers
#   scripts/conformance.sh --language go --case 'tls-*'
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export PYTHONPATH="$REPO_ROOT/python/src:$REPO_ROOT/conformance/server/src:$REPO_ROOT/conformance/runner/src"
server=container
for arg in "$@"; do [[ "$arg" == "--server=process" || "$arg" == "process" ]] && server=process; done
if [[ "$server" == container ]]; then
  DOCKER_HOST=$(scripts/containers-setup.sh | tail -n 1)
  export DOCKER_HOST
fi
exec "$PYTHON" -m fpgascore_conformance "$@"
