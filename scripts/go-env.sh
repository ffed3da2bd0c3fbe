# Go build environment for this repository, offline, from the Go stack that scripts/setup.sh
# unpacks into .tools/go-stack (Debian 13 "trixie" packages: Go 1.24, grpc-go 1.64,
# protobuf-go 1.36, protoc-gen-go / protoc-gen-go-grpc, staticcheck's sources; never
# installed system-wide). Source it (do not run it):   source scripts/go-env.sh
#
# The module in go/ keeps an honest go.mod (the versions users resolve with `go mod tidy`).
# CI and this machine have no module proxy, so this script writes a Go workspace OUTSIDE the
# tracked tree ($REPO/.tools/gowork/go.work, .tools is git-ignored) that `use`s go/ and
# `replace`s every module of the requirement closure by the unpacked sources
# (scripts/go_workspace.py says how; it reads the go.mod files, not go's error messages).
# The workspace is rebuilt only when go/go.mod, these scripts or the stack change, so
# sourcing it again is fast.
#
# Puts the stack's go, gofmt and .tools/bin (staticcheck, the built commands) first on PATH.
# Exports: GOROOT, GOWORK, GOPROXY=off, GOSUMDB=off, GOTOOLCHAIN=local, GOFLAGS unset,
# GOCACHE (the machine's, scripts/machine-cache.sh, or .tools/gocache) and GOPATH under .tools,
# FPGASCORE_GO_DIR (the module directory),
# FPGASCORE_GO_STACK (the unpacked prefix).

_fpgascore_go_env() {
  local repo tools stack work gocode goroot stamp want machine inputs trees
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tools="${FPGASCORE_TOOLS_DIR:-$repo/.tools}"
  stack="$tools/go-stack"
  # .tools/go-stack may be a link to the machine's shared copy (scripts/setup.sh): its real path,
  # so that every clone names the stack's sources alike and Go's cache (below) hits for them too.
  [[ -d "$stack" ]] && stack=$(cd -P "$stack" && pwd)
  work="$tools/gowork"
  gocode="$stack/root/usr/share/gocode/src"
  goroot=$(ls -d "$stack"/root/usr/lib/go-1.* 2>/dev/null | sort -V | tail -n 1)

  if [[ ! -f "$stack/.complete" || -z "$goroot" || ! -x "$goroot/bin/go" ]]; then
    echo "[fpgascore] error: the Go stack is not in $stack: run scripts/setup.sh" >&2
    return 1
  fi
  export FPGASCORE_GO_STACK="$stack/root"
  export FPGASCORE_GO_DIR="$repo/go"
  export GOROOT="$goroot"
  case ":$PATH:" in
    ":$goroot/bin:$tools/bin:"*) ;;
    *) export PATH="$goroot/bin:$tools/bin:$PATH" ;;
  esac
  export GOWORK="$work/go.work"
  export GOPROXY=off
  export GOSUMDB=off
  unset GOFLAGS
  export GO111MODULE=on
  # Go's build cache is content-addressed (an entry's key hashes the toolchain, the flags and every
  # input file, and for packages outside GOROOT their folder) and safe for concurrent go commands,
  # so the machine's one (scripts/machine-cache.sh) is shared by all clones and never stale;
  # FPGASCORE_CACHE_DIR=off: the clone's own.
  source "$repo/scripts/machine-cache.sh"
  machine=$(fpgascore_machine_cache)
  unset -f fpgascore_machine_cache
  if [[ -n "$machine" ]]; then
    export GOCACHE="$machine/go-build"
  else
    export GOCACHE="$tools/gocache"
  fi
  export GOPATH="$tools/gopath"
  # trixie's go.env says GOTOOLCHAIN=auto, which would try to download another toolchain.
  export GOTOOLCHAIN=local
  mkdir -p "$GOCACHE" "$work"

  stamp="$work/.stamp"
  inputs=$(cat "$repo/go/go.mod" "$repo/scripts/go_workspace.py" "$stack/.complete" | sha256sum | cut -c1-16)
  want="$inputs $(cksum <"${BASH_SOURCE[0]}") $repo $stack $machine"
  if [[ -f "$GOWORK" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  rm -f "$stamp"
  # The workspace's copies of Debian's modules (grpc with a newer go line, ...) are made from the
  # stack, go/go.mod's requirements and go_workspace.py only: with the machine cache, one folder
  # per hash of those, shared by the clones (so their grpc is one path: Go's cache hits for it).
  trees=()
  [[ -n "$machine" ]] && trees=(--trees "$machine/go-workspace/$inputs")
  "${FPGASCORE_PYTHON:-/usr/bin/python3}" "$repo/scripts/go_workspace.py" \
      --gocode "$gocode" --work "$work" "${trees[@]}" "$repo/go" || {
    echo "[fpgascore] error: cannot write the Go workspace $GOWORK" >&2
    return 1
  }
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
