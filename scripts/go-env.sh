# Go build environment for this repository, offline, from Debian's Go packages.
# Source it (do not run it):   source scripts/go-env.sh
#
# The module in go/ keeps an honest go.mod (the versions users resolve with `go mod tidy`).
# CI and this machine have no module proxy, so this script writes a Go workspace OUTSIDE the
# tracked tree ($REPO/.tools/gowork/go.work, .tools is git-ignored) that `use`s go/ and
# `replace`s every module in the requirement graph by Debian's sources under
# /usr/share/gocode/src (golang-google-grpc-dev, golang-google-protobuf-dev and their
# dependencies). Modules in the graph that Debian lacks and that no built package imports
# become stub directories holding only a go.mod. The workspace is rebuilt only when go/go.mod
# or this script changes, so sourcing it again is fast.
#
# Exports: GOWORK, GOPROXY=off, GOSUMDB=off, GOFLAGS unset, GOCACHE under .tools,
# FPGASCORE_GO_DIR (the module directory).

_fpgascore_go_env() {
  local repo tools work gocode stamp want
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools="${FPGASCORE_TOOLS_DIR:-$repo/.tools}"
  work="$tools/gowork"
  gocode="${FPGASCORE_GOCODE:-/usr/share/gocode/src}"

  export FPGASCORE_GO_DIR="$repo/go"
  export GOWORK="$work/go.work"
  export GOPROXY=off
  export GOSUMDB=off
  unset GOFLAGS
  export GO111MODULE=on
  export GOCACHE="$tools/gocache"
  export GOTOOLCHAIN=local
  mkdir -p "$GOCACHE" "$work"

  if ! command -v go >/dev/null 2>&1; then
    echo "[fpgascore] error: go not found (apt-get install golang-go golang-google-grpc-dev golang-google-protobuf-dev)" >&2
    return 1
  fi
  if [[ ! -d "$gocode/google.golang.org/grpc" || ! -d "$gocode/google.golang.org/protobuf" ]]; then
    echo "[fpgascore] error: $gocode lacks grpc/protobuf (apt-get install golang-google-grpc-dev golang-google-protobuf-dev)" >&2
    return 1
  fi

  # grpc-go's default codec (what raw generated stubs use) needs github.com/golang/protobuf
  # v1.4+, the shim over google.golang.org/protobuf; with Debian's v1.3 package raw stubs
  # cannot marshal the generated messages (the fpgascore client, CLI and conformance driver
  # use their own codec and still work; the raw-stub test fails and says why).
  if ! grep -q 'google.golang.org/protobuf' "$gocode/github.com/golang/protobuf/go.mod" 2>/dev/null; then
    echo "[fpgascore] warning: $gocode/github.com/golang/protobuf is older than v1.4:" \
         "apt-get install golang-github-golang-protobuf-1-5-dev (replaces golang-github-golang-protobuf-1-3-dev)" >&2
  fi

  stamp="$work/.stamp"
  want=$(cat "$repo/go/go.mod" "${BASH_SOURCE[0]}" | cksum)" $repo $gocode $(go env GOVERSION)"
  if [[ -f "$GOWORK" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi

  rm -rf "$work/stubs" "$work/copies"
  mkdir -p "$work/stubs" "$work/copies"
  local -a replaces=()
  # _add MODULE: replace MODULE by Debian's copy, a go.mod-less copy, or a stub.
  _fpgascore_add_replace() {
    local mod=$1 dir="$gocode/$1"
    local entry
    for entry in "${replaces[@]}"; do [[ "${entry%% *}" == "$mod" ]] && return 0; done
    if [[ -f "$dir/go.mod" ]]; then
      replaces+=("$mod $dir")
    elif [[ -d "$dir" ]]; then
      # Debian ships some modules without go.mod (github.com/golang/glog): copy and add one.
      local copy="$work/copies/$mod"
      mkdir -p "$copy"
      cp -R "$dir/." "$copy/"
      printf 'module %s\n' "$mod" >"$copy/go.mod"
      replaces+=("$mod $copy")
    else
      local stub="$work/stubs/$mod"
      mkdir -p "$stub"
      printf 'module %s\n' "$mod" >"$stub/go.mod"
      replaces+=("$mod $stub")
    fi
  }
  _fpgascore_write_work() {
    {
      printf 'go %s\n\nuse %s\n\n' "$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')" "$repo/go"
      local entry
      for entry in "${replaces[@]}"; do
        printf 'replace %s => %s\n' "${entry%% *}" "${entry#* }"
      done
    } >"$GOWORK"
  }

  local mod
  for mod in google.golang.org/grpc google.golang.org/protobuf github.com/golang/protobuf \
             github.com/golang/glog github.com/google/go-cmp golang.org/x/net golang.org/x/sys \
             golang.org/x/text golang.org/x/oauth2 google.golang.org/genproto \
             cloud.google.com/go/compute/metadata github.com/cncf/udpa/go \
             github.com/envoyproxy/go-control-plane github.com/google/uuid golang.org/x/term \
             golang.org/x/lint golang.org/x/tools golang.org/x/mod golang.org/x/crypto \
             google.golang.org/appengine honnef.co/go/tools; do
    _fpgascore_add_replace "$mod"
  done
  _fpgascore_write_work

  # Whatever else the requirement graph names: read go's complaints, add the module, retry.
  local out missing i
  for i in $(seq 1 40); do
    if out=$(cd "$repo/go" && go list -m all 2>&1); then
      break
    fi
    # e.g. "\tgithub.com/google/uuid@v1.1.2: module lookup disabled by GOPROXY=off"
    missing=$(printf '%s\n' "$out" | sed -nE 's/^[[:space:]]*(go: )?([^ @]+)@[^ :]+: .*/\2/p' | tail -1)
    if [[ -z "$missing" ]]; then
      echo "[fpgascore] error: cannot build the Go workspace:" >&2
      printf '%s\n' "$out" >&2
      return 1
    fi
    _fpgascore_add_replace "$missing"
    _fpgascore_write_work
  done
  unset -f _fpgascore_add_replace _fpgascore_write_work
  printf '%s' "$want" >"$stamp"
}
_fpgascore_go_env
_fpgascore_go_env_rc=$?
unset -f _fpgascore_go_env
if (( _fpgascore_go_env_rc != 0 )); then
  unset _fpgascore_go_env_rc
  return 1 2>/dev/null || exit 1
fi
unset _fpgascore_go_env_rc
