# Shared helpers for the scripts in this folder. Source it; do not run it.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR="${FPGASCORE_TOOLS_DIR:-$REPO_ROOT/.tools}"
# Debian's Python sees the apt-installed packages; another python3 first on PATH may not.
PYTHON="${FPGASCORE_PYTHON:-/usr/bin/python3}"
export PYTHONDONTWRITEBYTECODE=1

log() { printf '[fpgascore] %s\n' "$*" >&2; }
die() { printf '[fpgascore] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# protoc-gen-go is not packaged on its own in Debian 12: build it from the protobuf-go
# sources that golang-google-protobuf-dev installs, once.
build_protoc_gen_go() {
  local bin="$TOOLS_DIR/bin/protoc-gen-go"
  if [[ -x "$bin" ]]; then return; fi
  log "building protoc-gen-go from /usr/share/gocode"
  mkdir -p "$TOOLS_DIR/bin" "$TOOLS_DIR/gopath"
  GO111MODULE=off GOPATH="$TOOLS_DIR/gopath:/usr/share/gocode" GOCACHE="$TOOLS_DIR/gocache" \
    go build -o "$bin" google.golang.org/protobuf/cmd/protoc-gen-go
}
