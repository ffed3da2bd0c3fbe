#!/usr/bin/env bash
# Makes podman usable as the container engine on Debian 12 and serves its Docker-compatible
# API, so the Python `docker` package (conformance runner, container tests) works unchanged.
# Where a Docker engine already answers (DOCKER_HOST or /var/run/docker.sock), nothing is done.
# Idempotent; prints the DOCKER_HOST to use on its last line.
#
# Also builds the local base image (no registry is reachable here): debootstrap of Debian
# bookworm imported as localhost/debian:bookworm, once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SOCKET=/run/podman/podman.sock
SERVICE_PID=/run/podman/fpgascore-service.pid
BASE_IMAGE=${FPGASCORE_BASE_IMAGE:-localhost/debian:bookworm}

# --stop: end the API service this script started (scripts call it when their run ends).
if [[ "${1:-}" == "--stop" ]]; then
  if [[ -f "$SERVICE_PID" ]]; then
    kill "$(cat "$SERVICE_PID")" 2>/dev/null || true
    rm -f "$SERVICE_PID"
    log "stopped podman's Docker API service"
  fi
  exit 0
fi

docker_answers() {
  "$PYTHON" - "$1" <<'PY' >/dev/null 2>&1
import sys, docker
docker.DockerClient(base_url=sys.argv[1], timeout=5).ping()
PY
}

if [[ -n "${DOCKER_HOST:-}" ]] && docker_answers "$DOCKER_HOST"; then
  log "container engine: using DOCKER_HOST=$DOCKER_HOST"; echo "$DOCKER_HOST"; exit 0
fi
if [[ -S /var/run/docker.sock ]] && docker_answers unix:///var/run/docker.sock; then
  log "container engine: Docker at /var/run/docker.sock"; echo unix:///var/run/docker.sock; exit 0
fi
command -v podman >/dev/null || die "no container engine: install podman (scripts/setup.sh does)"

# crun refuses this kernel's hybrid cgroups and the default ulimits exceed the hard limits.
if [[ ! -f /etc/containers/containers.conf ]] || ! grep -q 'runtime = "runc"' /etc/containers/containers.conf; then
  log "configuring podman: runc, cgroupfs, lower default ulimits"
  as_root mkdir -p /etc/containers
  as_root tee /etc/containers/containers.conf >/dev/null <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

if ! docker_answers "unix://$SOCKET"; then
  log "starting podman's Docker API service on $SOCKET"
  as_root mkdir -p /run/podman
  setsid podman system service --time=0 "unix://$SOCKET" >/tmp/fpgascore-podman-service.log 2>&1 < /dev/null &
  echo $! > "$SERVICE_PID"
  for _ in $(seq 1 50); do docker_answers "unix://$SOCKET" && break; sleep 0.2; done
  docker_answers "unix://$SOCKET" || die "podman system service did not come up (see /tmp/fpgascore-podman-service.log)"
fi

if [[ "$BASE_IMAGE" == localhost/* ]] && ! podman image exists "$BASE_IMAGE"; then
  log "building base image $BASE_IMAGE with debootstrap (about 30 s)"
  rootfs=$(mktemp -d)
  as_root debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/tmp/fpgascore-debootstrap.log 2>&1 \
    || die "debootstrap failed (see /tmp/fpgascore-debootstrap.log)"
  tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$rootfs"
fi
log "container engine: podman via unix://$SOCKET"
echo "unix://$SOCKET"
