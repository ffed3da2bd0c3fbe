#!/usr/bin/env bash
# The one code generator: proto/ -> python/src/fpgascore/v1 and go/fpgascorepb.
# C# generates at build time with Grpc.Tools from the same proto/ files.
#
#   scripts/generate.sh           # regenerate in place
#   scripts/generate.sh --check   # fail if the checked-in output is stale
#
# Message files get message code; service files (*_service.proto) get gRPC stubs only, so
# the tensorflow.serving / grpc.health.v1 service symbols never enter Python's or Go's
# global registries (proto/README.md explains why).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

check=0
[[ "${1:-}" == "--check" ]] && check=1

build_protoc_gen_go
PY_OUT=python/src/fpgascore/v1
GO_OUT=go/fpgascorepb
GO_MODULE=github.com/fpgascore/fpgascore/go

mapfile -t message_protos < <(cd proto && ls fpgascore/v1/*.proto | grep -v '_service\.proto$' | sort)
mapfile -t service_protos < <(cd proto && ls fpgascore/v1/*_service.proto | sort)

generate_into() {
  local py_dir=$1 go_dir=$2
  mkdir -p "$py_dir" "$go_dir"
  protoc -Iproto --python_out="$py_dir/../.." --pyi_out="$py_dir/../.." "${message_protos[@]}"
  protoc -Iproto --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
    --grpc_python_out="$py_dir/../.." "${service_protos[@]}"
  protoc -Iproto --plugin=protoc-gen-go="$TOOLS_DIR/bin/protoc-gen-go" \
    --go_out="$go_dir/.." --go_opt=module="$GO_MODULE" "${message_protos[@]}"
  protoc -Iproto --plugin=protoc-gen-go-grpc="$(command -v protoc-gen-go-grpc)" \
    --go-grpc_out="$go_dir/.." --go-grpc_opt=module="$GO_MODULE" "${service_protos[@]}"
  # The generated modules import each other as fpgascore.v1.*; make the folder a package.
  printf '"""Generated protobuf and gRPC code for fpgascore.v1 (scripts/generate.sh). Do not edit."""\n' \
    > "$py_dir/__init__.py"
}

if (( check )); then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/py/fpgascore/v1" "$tmp/go/fpgascorepb"
  generate_into "$tmp/py/fpgascore/v1" "$tmp/go/fpgascorepb"
  if ! diff -r "$tmp/py/fpgascore/v1" "$PY_OUT" || ! diff -r "$tmp/go/fpgascorepb" "$GO_OUT" -x '*_test.go' -x '*.md'; then
    die "generated code is stale: run scripts/generate.sh and commit the result"
  fi
  log "generated code is up to date"
else
  rm -f "$PY_OUT"/*_pb2*.py* "$GO_OUT"/*.pb.go
  generate_into "$PY_OUT" "$GO_OUT"
  log "generated $PY_OUT and $GO_OUT"
fi
