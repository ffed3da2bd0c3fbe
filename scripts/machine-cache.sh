# The machine's cache folder for builds that every clone on this machine may share (as a CI
# system's caches): fpgascore_machine_cache prints it, or nothing when FPGASCORE_CACHE_DIR=off.
# Source it (scripts/lib.sh and scripts/go-env.sh do); do not run it.
#
#   FPGASCORE_CACHE_DIR unset  ${XDG_CACHE_HOME:-$HOME/.cache}/fpgascore
#   FPGASCORE_CACHE_DIR=DIR    DIR
#   FPGASCORE_CACHE_DIR=off    no machine cache: everything is built in the clone (.tools, out/)
#
# Only what is safe to share goes there, each under a key that covers all of its inputs, so a
# clone never gets another clone's stale build (each user says why it is safe):
#   go-build/           GOCACHE (scripts/go-env.sh): Go's own content-addressed build cache
#   go-stack/KEY/       the unpacked Go stack and staticcheck (scripts/setup.sh)
#   artifacts/KIND-KEY/ the release packages (scripts/build-artifacts.sh)
fpgascore_machine_cache() {
  local dir="${FPGASCORE_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-}/.cache}/fpgascore}"
  [[ "$dir" == off ]] && return 0
  [[ "$dir" == /* ]] || return 0  # no HOME: no machine cache
  echo "$dir"
}
