#!/usr/bin/env bash
# Fresh-machine setup for fpgascore on Debian 12: installs every tool the build, the tests
# and the conformance run need, from the registries reachable here (Debian packages, NuGet),
# and unpacks the Go stack (Debian 13 packages: Go 1.24, grpc-go 1.64, protobuf-go 1.36, the
# protoc plugins, staticcheck's sources) into .tools/go-stack without installing it (once per
# machine with the machine cache, scripts/machine-cache.sh: .tools/go-stack then links to it).
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
  python3-docker python3-pytest python3-pytest-timeout python3-hypothesis python3-prometheus-client tox
  python3-pytest-xdist   # scripts/test-all.sh runs the server suite on several workers
  # the lint suite (scripts/lint.sh): flake8, mypy and typeshed's stubs (PIL, ...)
  flake8 python3-flake8 mypy python3-mypy python3-typeshed
  # code generation (protoc-gen-go and protoc-gen-go-grpc come with the Go stack below)
  protobuf-compiler protobuf-compiler-grpc
  libprotobuf-dev   # google/protobuf/*.proto: the TF Serving fixture protos import any and wrappers
  # the emulator's native kernels (scripts/build-kernels.sh)
  gcc libc6-dev
  # misc
  git make ca-certificates openssl
  # the manager: its Kubernetes export test parses YAML; its dashboard test runs headless Chromium;
  # a service of several replicas runs behind nginx's TCP proxy (the stream module)
  python3-yaml chromium nginx libnginx-mod-stream
)
CONTAINER_PACKAGES=(podman runc debootstrap catatonit)  # catatonit: the pause image of `podman kube play`

# The Go stack: Debian 13 ("trixie") packages from the same Debian archive, fetched with a
# private apt configuration (its own sources list, lists and cache under .tools/go-stack/apt)
# and unpacked with dpkg -x into .tools/go-stack/root. They are never installed: trixie's
# packages would pull its libc into this Debian 12 system. Go's and the plugins' binaries are
# static and run here. scripts/go-env.sh builds against these sources.
# Each entry: PACKAGE=the start of the upstream version it must have.
GO_STACK_SUITE=trixie
GO_STACK_PACKAGES=(
  # toolchain (go, gofmt) and its standard library
  golang-1.24-go=1.24. golang-1.24-src=1.24.
  # code generation: protoc-gen-go v1.36.5; protoc-gen-go-grpc 1.3.0 (built from grpc-go 1.64's tree)
  protoc-gen-go=1.36.5 protoc-gen-go-grpc=1.64.0
  # what a build of the module compiles: grpc-go, protobuf-go and their imports
  golang-google-grpc-dev=1.64.0 golang-google-protobuf-dev=1.36.5
  golang-github-golang-protobuf-1-5-dev=1.5.4   # Debian's grpc binarylog.pb.go imports its ptypes
  golang-golang-x-net-dev= golang-golang-x-sys-dev= golang-golang-x-text-dev=
  golang-google-genproto-dev=                  # holds genproto/googleapis/rpc (status)
  # staticcheck (built into .tools/bin) and what it imports
  golang-honnef-go-tools-dev=2024.1 golang-golang-x-tools-dev= golang-golang-x-mod-dev=
  golang-golang-x-sync-dev= golang-golang-x-exp-dev= golang-github-burntsushi-toml-dev=
)
GO_STACK_LINK="$TOOLS_DIR/go-stack"  # the stack itself, or a link to the machine's copy
GO_STACK_DIR="$GO_STACK_LINK"        # where it is unpacked (fetch_go_stack)

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
  # Packages with a daemon (nginx) must not start it: the manager runs its own nginx per service.
  # policy-rc.d's 101 ("action forbidden") tells invoke-rc.d so, for this install only.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && added_policy=1
  fi
  local status=0
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends $missing || status=$?
  if (( added_policy )); then as_root rm -f "$policy"; fi
  return $status
}

# The Debian mirror this machine already uses (deb822 or one-line sources).
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n "$uri" ]] || uri=$(awk '$1 == "deb" && $0 ~ / bookworm / {print ($2 ~ /^\[/ ? $3 : $2); exit}' \
                          /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# With a machine cache (scripts/machine-cache.sh), the stack is unpacked once per machine, into
# MACHINE_CACHE/go-stack/KEY, and .tools/go-stack links to it. Safe to share: KEY hashes the suite
# and the package list with their versions (what a clone's own copy is checked against too), an
# entry is written under a lock, complete only once its .complete is there, and never changed
# afterwards (another list is another KEY); clones only read it. FPGASCORE_CACHE_DIR=off: the
# clone's own copy, as before.
go_stack() {
  local want key
  want=$(printf '%s\n' "$GO_STACK_SUITE" "${GO_STACK_PACKAGES[@]}")
  if [[ -z "$MACHINE_CACHE" ]]; then
    [[ -L "$GO_STACK_LINK" ]] && rm -f "$GO_STACK_LINK"
    fetch_go_stack "$want"
    return
  fi
  key=$(printf '%s\n' "$want" | sha256sum | cut -c1-16)
  GO_STACK_DIR="$MACHINE_CACHE/go-stack/$key"
  mkdir -p "$MACHINE_CACHE/go-stack"
  (
    exec 8>"$GO_STACK_DIR.lock"
    flock -w 1800 8 || die "timed out waiting for $GO_STACK_DIR.lock"
    fetch_go_stack "$want"
  ) || exit 1
  if [[ "$(readlink "$GO_STACK_LINK" 2>/dev/null)" != "$GO_STACK_DIR" ]]; then
    mkdir -p "$TOOLS_DIR"
    rm -rf "$GO_STACK_LINK"
    ln -s "$GO_STACK_DIR" "$GO_STACK_LINK"
    log "Go stack: $GO_STACK_LINK links to the machine's copy"
  fi
}

fetch_go_stack() {
  local dir="$GO_STACK_DIR" want=$1
  if [[ -f "$dir/.complete" && -f "$dir/.wanted" && "$(cat "$dir/.wanted")" == "$want" ]] \
      && compgen -G "$dir/root/usr/lib/go-1.*/bin/go" >/dev/null; then
    log "Go stack ($GO_STACK_SUITE): present in $dir"
    return
  fi
  log "Go stack: fetching ${#GO_STACK_PACKAGES[@]} $GO_STACK_SUITE packages into $dir"
  local apt_dir="$dir/apt"
  rm -rf "$dir/debs" "$dir/root.new" "$dir/.complete"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir/debs"
  echo "deb $(debian_mirror) $GO_STACK_SUITE main" >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
                  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
                  -o APT::Sandbox::User=root -q)
  apt-get "${apt_opts[@]}" update >/dev/null || die "apt-get update of the $GO_STACK_SUITE lists failed"
  local entry names=()
  for entry in "${GO_STACK_PACKAGES[@]}"; do names+=("${entry%%=*}/$GO_STACK_SUITE"); done
  (cd "$dir/debs" && apt-get "${apt_opts[@]}" download "${names[@]}" >/dev/null) \
    || die "apt-get download of the Go stack failed"
  local deb pkg version manifest=""
  mkdir -p "$dir/root.new"
  for entry in "${GO_STACK_PACKAGES[@]}"; do
    pkg=${entry%%=*}
    deb=$(ls "$dir/debs/${pkg}_"*.deb 2>/dev/null | head -n 1)
    [[ -n "$deb" ]] || die "Go stack: $pkg was not downloaded"
    version=$(dpkg-deb -f "$deb" Version)
    [[ "${version#*:}" == "${entry#*=}"* ]] \
      || die "Go stack: $GO_STACK_SUITE has $pkg $version, not ${entry#*=}* (update GO_STACK_PACKAGES)"
    dpkg-deb -x "$deb" "$dir/root.new"
    manifest+="$pkg $version"$'\n'
  done
  rm -rf "$dir/root" "$dir/debs"
  mv "$dir/root.new" "$dir/root"
  printf '%s\n' "$want" >"$dir/.wanted"
  printf '%s' "$manifest" >"$dir/.complete"
  log "Go stack: $("$dir"/root/usr/lib/go-1.*/bin/go version), $("$dir/root/usr/bin/protoc-gen-go" --version)," \
      "$("$dir/root/usr/bin/protoc-gen-go-grpc" --version)"
}

# staticcheck, built from the stack's honnef.co/go/tools sources (and their dependencies',
# all from the same packages) through a workspace of its own.
build_staticcheck() {
  local bin="$TOOLS_DIR/bin/staticcheck"
  if [[ -x "$bin" && "$bin" -nt "$GO_STACK_DIR/.complete" ]]; then return; fi
  log "building staticcheck from the Go stack's sources"
  (
    # shellcheck source=go-env.sh
    source scripts/go-env.sh
    src="$FPGASCORE_GO_STACK/usr/share/gocode/src"
    "$PYTHON" scripts/go_workspace.py --gocode "$src" --work "$TOOLS_DIR/gowork-staticcheck" \
      "$src/honnef.co/go/tools"
    cd "$TOOLS_DIR" && GOWORK="$TOOLS_DIR/gowork-staticcheck/go.work" \
      go build -trimpath -o "$bin" honnef.co/go/tools/cmd/staticcheck
  ) || die "building staticcheck failed"
  log "$("$bin" -version)"
}

check_dotnet() {
  if ! command -v dotnet >/dev/null; then
    die "the .NET SDK (dotnet) is not on PATH; install the .NET 8+ SDK (Microsoft's packages) first"
  fi
  log ".NET SDK: $(dotnet --version)"
}

# Skipped when every project's restore output is newer than its project file and the shared
# props (a restore takes the turn of every build of csharp/: scripts/shims/dotnet); builds restore
# what is missing anyway.
restore_nuget() {
  local project assets
  for project in csharp/*/*.csproj; do
    assets="$(dirname "$project")/obj/project.assets.json"
    if [[ ! "$assets" -nt "$project" || ! "$assets" -nt csharp/Directory.Build.props ]]; then
      log "NuGet: restoring csharp/"
      dotnet restore csharp/FpgaScore.sln --verbosity quiet
      return
    fi
  done
  log "NuGet: csharp/ restored already"
}

main() {
  install_debian_packages
  go_stack
  build_staticcheck
  check_dotnet
  restore_nuget
  scripts/build-kernels.sh
  if (( want_containers )); then
    # Configuration and the base image only: the API service is started by the runs that use
    # containers, for as long as they run (scripts/containers-setup.sh --holder).
    scripts/containers-setup.sh --no-service
  fi
  log "setup complete"
}
main
