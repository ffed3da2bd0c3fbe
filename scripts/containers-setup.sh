#!/usr/bin/env bash
# Makes podman usable as the container engine on Debian 12 and serves its Docker-compatible
# API, so the Python `docker` package (conformance runner, container tests) works unchanged.
# Where a Docker engine already answers (DOCKER_HOST or /var/run/docker.sock), nothing is done.
# Idempotent; prints the DOCKER_HOST to use on its last line.
#
#   scripts/containers-setup.sh --holder PID    # a run that needs the engine (PID: the run's own $$)
#   scripts/containers-setup.sh --release --holder PID   # that run is done with it
#   scripts/containers-setup.sh --no-service    # configure podman and build the base image only
#   scripts/containers-setup.sh --run CMD ARGS  # CMD with DOCKER_HOST set, the engine held while it runs
#
# The API service is shared and reference-counted. Each run that needs it takes a hold in its
# own name (a file per holder PID in the state directory next to the socket) and releases it
# when it ends. Under a lock (flock), a hold reuses a service whose socket answers and starts
# one only when none does, so concurrent runs never start two. A release stops the service only
# when a run of this script started it (its PID and start time are recorded) and no live
# holder is left: another run's hold keeps it running, and a service nobody here started
# (someone's own `podman system service`) is never stopped. The hold of a run that died
# without releasing (kill -9) no longer counts: the next hold or release drops it. Without
# --holder, the hold is the calling process's ($PPID: an interactive shell holds it until it
# exits and a later release sees it dead).
#
# Also builds the local base image (no registry is reachable here): debootstrap of Debian
# bookworm imported as localhost/debian:bookworm, once.
#
# FPGASCORE_PODMAN_SOCKET: the socket to serve (default /run/podman/podman.sock); when set,
# a Docker engine at /var/run/docker.sock is not looked for (the tests use their own socket).
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
source scripts/lib.sh

SOCKET=${FPGASCORE_PODMAN_SOCKET:-/run/podman/podman.sock}
STATE_DIR="$(dirname "$SOCKET")/fpgascore-$(basename "$SOCKET" .sock)"  # lock, service.pid, holders/
BASE_IMAGE=${FPGASCORE_BASE_IMAGE:-localhost/debian:bookworm}
ENGINE_LOCK=/run/lock/fpgascore-podman-setup.lock  # podman's configuration and the base image

action=hold holder=$PPID command=()
while (( $# )); do
  case "$1" in
    --run) shift; (( $# )) || die "--run needs a command"; command=("$@"); holder=$$; break ;;
    --holder) holder=${2:?--holder needs a PID}; shift ;;
    --holder=*) holder=${1#--holder=} ;;
    --release) action=release ;;
    --no-service) action=configure ;;
    *) die "containers-setup.sh: unknown argument $1" ;;
  esac
  shift
done
[[ "$holder" =~ ^[0-9]+$ ]] || die "containers-setup.sh: --holder needs a PID, not $holder"

# Does an engine answer at this URL? unix sockets are pinged directly (quick); others through
# the docker package.
docker_answers() {
  "$PYTHON" - "$1" <<'PY' >/dev/null 2>&1
import socket, sys
url = sys.argv[1]
if url.startswith("unix://"):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(url[len("unix://"):])
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    sys.exit(0 if answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n", 1)[0] else 1)
import docker
docker.DockerClient(base_url=url, timeout=5).ping()
PY
}

# A process's start time (clock ticks since boot): a PID with another start time is another
# process. Empty when the process is gone or a zombie.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }  # the fields after "pid (comm) "
  read -r -a fields <<<"$stat"
  [[ "${fields[0]}" == Z ]] || echo "${fields[19]}"
}
alive() { [[ -n "$2" && "$(start_time "$1")" == "$2" ]]; }

# The service a run of this script started, if it is still that process: its PID, else nothing.
our_service() {
  local pid start
  [[ -f "$STATE_DIR/service.pid" ]] || return 0
  read -r pid start <"$STATE_DIR/service.pid" || true
  if [[ -n "${pid:-}" ]] && alive "$pid" "${start:-}" \
      && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "system service --time=0 unix://$SOCKET "; then
    echo "$pid"
  else
    rm -f "$STATE_DIR/service.pid"
  fi
}

live_holders() {  # drops the holds of processes that are gone; prints the live ones' PIDs
  local file pid start
  for file in "$STATE_DIR"/holders/*; do
    [[ -e "$file" ]] || continue
    pid=${file##*/}
    start=$(cat "$file" 2>/dev/null || true)
    if alive "$pid" "$start"; then echo "$pid"; else rm -f "$file"; fi
  done
}

lock_state() {  # the state lock for the rest of this script (fd 9; no child may keep it)
  mkdir -p "$STATE_DIR/holders" || die "cannot create $STATE_DIR (run as root)"
  exec 9>"$STATE_DIR/lock"
  flock -w 300 9 || die "timed out waiting for $STATE_DIR/lock"
}

start_service() {
  local old
  old=$(our_service)
  if [[ -n "$old" ]]; then  # ours, alive, but not answering: replace it
    log "podman's API service (pid $old) does not answer; restarting it"
    stop_service "$old"
  fi
  log "starting podman's Docker API service on $SOCKET"
  # 9>&-: the service must not inherit the state lock (it would hold it for its lifetime).
  setsid podman system service --time=0 "unix://$SOCKET" >"$STATE_DIR/service.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid $(start_time "$pid")" >"$STATE_DIR/service.pid"
  for _ in $(seq 1 100); do docker_answers "unix://$SOCKET" && return 0; sleep 0.1; done
  stop_service "$pid"
  die "podman system service did not come up (see $STATE_DIR/service.log)"
}

stop_service() {
  local pid=$1 start
  start=$(start_time "$pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" "$start" || break; sleep 0.1; done
  if alive "$pid" "$start"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$STATE_DIR/service.pid"
}

if [[ "$action" == release ]]; then
  [[ -d "$STATE_DIR" ]] || exit 0
  lock_state
  rm -f "$STATE_DIR/holders/$holder"
  others=$(live_holders | wc -l)
  pid=$(our_service)
  if [[ -z "$pid" ]]; then
    :  # nothing this script started is running (or the service is someone else's)
  elif (( others > 0 )); then
    log "podman's Docker API service left running for $others other run(s)"
  else
    stop_service "$pid"
    log "stopped podman's Docker API service (pid $pid)"
  fi
  exit 0
fi

# The engine's URL on the last line, or (--run) the command run with it.
finish() {
  if (( ${#command[@]} )); then
    exec 9>&-  # the command must not keep the state lock
    cd "$caller_dir"
    DOCKER_HOST=$1 "${command[@]}"
    exit
  fi
  echo "$1"
  exit 0
}

if [[ -n "${DOCKER_HOST:-}" && "$DOCKER_HOST" != "unix://$SOCKET" ]] && docker_answers "$DOCKER_HOST"; then
  log "container engine: using DOCKER_HOST=$DOCKER_HOST"; finish "$DOCKER_HOST"
fi
if [[ -z "${FPGASCORE_PODMAN_SOCKET:-}" && -S /var/run/docker.sock ]] && docker_answers unix:///var/run/docker.sock; then
  log "container engine: Docker at /var/run/docker.sock"; finish unix:///var/run/docker.sock
fi
command -v podman >/dev/null || die "no container engine: install podman (scripts/setup.sh does)"

# Configuration and base image: machine-wide, so under a machine-wide lock (fd 8).
as_root mkdir -p "$(dirname "$ENGINE_LOCK")"
exec 8>"$ENGINE_LOCK"
flock -w 600 8 || die "timed out waiting for $ENGINE_LOCK"
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
if [[ "$BASE_IMAGE" == localhost/* ]] && ! podman image exists "$BASE_IMAGE"; then
  log "building base image $BASE_IMAGE with debootstrap (about 30 s)"
  rootfs=$(mktemp -d)
  as_root debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/tmp/fpgascore-debootstrap.log 2>&1 \
    || die "debootstrap failed (see /tmp/fpgascore-debootstrap.log)"
  tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$rootfs"
fi
exec 8>&-
if [[ "$action" == configure ]]; then
  log "container engine: podman configured (the API service starts when a run needs it)"
  exit 0
fi

holder_start=$(start_time "$holder")
[[ -n "$holder_start" ]] || die "containers-setup.sh: holder $holder is not a running process"
lock_state
live_holders >/dev/null
if docker_answers "unix://$SOCKET"; then
  if [[ -n "$(our_service)" ]]; then log "podman's Docker API service: reusing the one a run here started"
  else log "podman's Docker API service: reusing one already running (not stopped by this script)"; fi
else
  start_service
fi
echo "$holder_start" >"$STATE_DIR/holders/$holder"
log "container engine: podman via unix://$SOCKET (held for pid $holder)"
(( ${#command[@]} )) && trap '"$REPO_ROOT/scripts/containers-setup.sh" --release --holder $$' EXIT
finish "unix://$SOCKET"
