#!/usr/bin/env bash
# Fresh-machine setup for fpgascore on Debian 12: installs every tool the build, the tests
# and the conformance run need, from the registries reachable here (Debian packages, NuGet).
# Idempotent and quick when everything is already there.
#
#   scripts/setup.sh            # everything
#   scripts/setup.sh --no-containers   # skip podman/debootstrap and the base image
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

want_containers=1
for arg in "$@"; do
  case "$arg" in
    --no-containers) want_containers=0 ;;
    *) echo "setup.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

DEBIAN_PACKAGES=(
  # Python: the house language (reference server, Python client, conformance runner, tooling)
  python3 python3-venv python3-pip python3-build python3-wheel python3-setuptools
  python3-grpcio python3-protobuf python3-numpy python3-pil python3-cryptography libopenblas0-pthread
  python3-docker python3-pytest python3-pytest-timeout python3-hypothesis tox
  # code generation
  protobuf-compiler protobuf-compiler-grpc protoc-gen-go-grpc
  # Go: toolchain and the module sources CI builds against offline
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  # grpc-go's default codec needs golang/protobuf 1.4+ (APIv2-backed) to marshal protoc-gen-go 1.28 messages
  golang-github-golang-protobuf-1-5-dev
  # misc
  git make ca-certificates openssl
)
CONTAINER_PACKAGES=(podman runc debootstrap)

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

install_debian_packages() {
  local wanted=("${DEBIAN_PACKAGES[@]}")
  (( want_containers )) && wanted+=("${CONTAINER_PACKAGES[@]}")
  local missing
  missing=$(missing_packages "${wanted[@]}")
  if [[ -z "$missing" ]]; then
    log "Debian packages: all present"
    return
  fi
  log "Debian packages: installing $(echo $missing | tr '\n' ' ')"
  as_root apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends $missing
}

check_dotnet() {
  if ! command -v dotnet >/dev/null; then
    die "the .NET SDK (dotnet) is not on PATH; install the .NET 8+ SDK (Microsoft's packages) first"
  fi
  log ".NET SDK: $(dotnet --version)"
}

restore_nuget() {
  log "NuGet: restoring csharp/"
  dotnet restore csharp/FpgaScore.sln --verbosity quiet
}

main() {
  install_debian_packages
  build_protoc_gen_go
  check_dotnet
  restore_nuget
  if (( want_containers )); then
    scripts/containers-setup.sh
  fi
  log "setup complete"
}
main
