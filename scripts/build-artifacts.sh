#!/usr/bin/env bash
# Builds the release artifacts of the three clients into one folder, offline, as a release
# would publish them:
#   OUT/python/fpgascore-X.Y.Z-py3-none-any.whl    pip wheel --no-deps --no-build-isolation (a copy of python/)
#   OUT/nuget/FpgaScore.X.Y.Z.nupkg (+ .snupkg)     dotnet pack csharp/FpgaScore; FpgaScore.Cli too
#   OUT/go/github.com/fpgascore/fpgascore/go/@v/vX.Y.Z.{info,mod,zip}, list
#                                                   the Go module as the tag go/vX.Y.Z publishes it, in
#                                                   the layout of a file:// module proxy (GOPROXY=file://OUT/go)
#   OUT/MANIFEST.txt                                each file's sha256, the Go module's go.sum hashes
# Then `scripts/conformance.sh --artifacts OUT` runs the conformance matrix on these packages
# instead of the tree (conformance/README.md, "Testing the built packages").
#
#   scripts/build-artifacts.sh OUT            # all three
#   scripts/build-artifacts.sh OUT python go  # a subset (python, nuget, go)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

(( $# >= 1 )) || die "usage: scripts/build-artifacts.sh OUT [python|nuget|go ...]"
out=$1; shift
kinds=("$@")
(( ${#kinds[@]} )) || kinds=(python nuget go)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(tr -d '[:space:]' < VERSION)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_python() {
  # From a copy of python/, so the checkout gets no build/ or egg-info (as tests/test_packaging.py builds it).
  rm -rf "$out/python"; mkdir -p "$out/python"
  "$PYTHON" - "$REPO_ROOT/python" "$work/python" <<'PY'
import shutil, sys
shutil.copytree(sys.argv[1], sys.argv[2], ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
PY
  "$PYTHON" -m pip wheel --no-deps --no-build-isolation --no-index --quiet --wheel-dir "$out/python" "$work/python" \
    || die "building the wheel failed"
  [[ -f "$out/python/fpgascore-$version-py3-none-any.whl" ]] || die "no fpgascore-$version-py3-none-any.whl in $out/python"
}

build_nuget() {
  rm -rf "$out/nuget"; mkdir -p "$out/nuget"
  local project
  for project in csharp/FpgaScore/FpgaScore.csproj csharp/FpgaScore.Cli/FpgaScore.Cli.csproj; do
    dotnet pack "$project" -c Release -o "$out/nuget" --nologo --verbosity quiet || die "dotnet pack $project failed"
  done
  [[ -f "$out/nuget/FpgaScore.$version.nupkg" ]] || die "no FpgaScore.$version.nupkg in $out/nuget"
}

build_go() {
  rm -rf "$out/go"; mkdir -p "$out/go"
  "$PYTHON" scripts/go_module_proxy.py --module-dir go --version "v$version" --out "$out/go" > "$work/go.sum" \
    || die "writing the Go module failed"
  cp "$work/go.sum" "$out/go/go.sum.txt"
}

for kind in "${kinds[@]}"; do
  declare -F "build_$kind" >/dev/null || die "unknown artifact $kind (python, nuget, go)"
  log "building the $kind artifact ($version)"
  "build_$kind"
done

{
  echo "# fpgascore $version release artifacts (scripts/build-artifacts.sh), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')"
  for kind in python nuget go; do
    if [[ -d "$out/$kind" ]]; then (cd "$out" && find "$kind" -type f ! -name go.sum.txt | sort | xargs -r sha256sum); fi
  done
  if [[ -f "$out/go/go.sum.txt" ]]; then sed 's/^/go.sum: /' "$out/go/go.sum.txt"; fi
} > "$out/MANIFEST.txt"
log "artifacts in $out:"
sed 's/^/  /' "$out/MANIFEST.txt" >&2
