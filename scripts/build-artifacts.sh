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
# Each artifact is built once per set of sources: a build is kept in the machine's cache
# (scripts/machine-cache.sh: MACHINE_CACHE/artifacts/KIND-KEY, shared by every clone; with
# FPGASCORE_CACHE_DIR=off the clone's out/cache/artifacts; FPGASCORE_ARTIFACT_CACHE: another
# folder, "off": none), KEY a hash of everything it is made from (the files of its source folders
# as they are now, committed or not, VERSION, LICENSE, this script, the tools' versions; for nuget
# also the commit, which SourceLink writes into the packages, and the CI variables that make a
# build a ContinuousIntegrationBuild), and OUT gets a copy. A change to any of them is another key,
# so a build is never stale; the suites of one scripts/test-all.sh run (the C# suite, the install
# tests, the conformance matrix) and the clones of one commit share one build. Nothing of the
# clone's path goes into a package: the nuget build maps its source paths (/_/, as CI's
# ContinuousIntegrationBuild does), the wheel and the Go module hold relative names only.
# Concurrent runs build a kind one at a time (a lock per kind), so the second finds the first's
# build. The 3 newest builds of each kind are kept.
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
  # ContinuousIntegrationBuild, as a release's CI builds them: deterministic source paths (/_/ in
  # the PDBs and the DLLs' PDB path instead of this clone's folder), so a package is the same from
  # every clone of a commit and the machine's cache can hand it to all of them. No analyzers: they
  # never change what is compiled (the packages' files are byte for byte the same without them, checked
  # when this was written) and the lint suite runs them on these sources; they were half the pack's CPU.
  for project in csharp/FpgaScore/FpgaScore.csproj csharp/FpgaScore.Cli/FpgaScore.Cli.csproj; do
    dotnet pack "$project" -c Release -o "$out/nuget" --nologo --verbosity quiet -p:ContinuousIntegrationBuild=true \
      -p:RunAnalyzers=false \
      || die "dotnet pack $project failed"
  done
  [[ -f "$out/nuget/FpgaScore.$version.nupkg" ]] || die "no FpgaScore.$version.nupkg in $out/nuget"
}

build_go() {
  rm -rf "$out/go"; mkdir -p "$out/go"
  "$PYTHON" scripts/go_module_proxy.py --module-dir go --version "v$version" --out "$out/go" > "$work/go.sum" \
    || die "writing the Go module failed"
  cp "$work/go.sum" "$out/go/go.sum.txt"
}

# The hash of the files under the given paths (files and folders; the -prune names skipped) and
# of their names: KIND's cache key, with the extra words given after --.
tree_key() {
  local prune=() paths=()
  while (( $# )) && [[ "$1" != -- ]]; do paths+=("$1"); shift; done
  (( $# )) && shift
  local name
  for name in bin obj TestResults build dist '*.egg-info' __pycache__ .pytest_cache .hypothesis; do
    prune+=(-name "$name" -o)
  done
  {
    printf '%s\n' "$@" "$(sha256sum scripts/build-artifacts.sh)"
    find "${paths[@]}" \( "${prune[@]}" -false \) -prune -o \( -type f -o -type l \) -print0 \
      | LC_ALL=C sort -z | xargs -0 -r sha256sum
  } | sha256sum | cut -c1-16
}

cache_key() {
  case "$1" in
    python) tree_key python VERSION LICENSE -- "$("$PYTHON" --version 2>&1)" "$("$PYTHON" -m pip --version)" \
              "$("$PYTHON" -c 'import setuptools, wheel; print(setuptools.__version__, wheel.__version__)' 2>&1)" ;;
    nuget) tree_key csharp proto VERSION LICENSE .editorconfig -- "$(dotnet --version)" \
             "$(git rev-parse HEAD 2>/dev/null || echo no-commit)" "CI=${CI:-} ${GITHUB_ACTIONS:-} ${TF_BUILD:-}" ;;
    go) tree_key go scripts/go_module_proxy.py VERSION LICENSE -- ;;
  esac
}

if [[ -n "${FPGASCORE_ARTIFACT_CACHE:-}" ]]; then
  CACHE=$FPGASCORE_ARTIFACT_CACHE
elif [[ -n "$MACHINE_CACHE" ]]; then
  CACHE="$MACHINE_CACHE/artifacts"
else
  CACHE="$REPO_ROOT/out/cache/artifacts"
fi
KEEP=3

# build_KIND writes $out/KIND; through the cache, it writes the cache's folder and OUT gets a copy.
cached_build() {
  local kind=$1 key entry final_out=$out
  if [[ "$CACHE" == off ]]; then
    log "building the $kind artifact ($version)"
    "build_$kind" 7>&-
    return
  fi
  mkdir -p "$CACHE"
  key=$(cache_key "$kind") || die "cannot hash the $kind artifact's sources"
  entry="$CACHE/$kind-$key"
  exec 7>"$CACHE/$kind.lock"
  flock -w 3600 7 || die "timed out waiting for $CACHE/$kind.lock"
  if [[ -f "$entry/.complete" ]]; then
    log "the $kind artifact ($version): built before from the same sources ($entry)"
    touch "$entry/.complete"
  else
    log "building the $kind artifact ($version) into $entry"
    rm -rf "$entry" "$entry.new"
    mkdir -p "$entry.new"
    out="$entry.new"
    "build_$kind" 7>&-  # no build server dotnet leaves behind may keep the lock
    out=$final_out
    mv "$entry.new" "$entry"
    touch "$entry/.complete"
    # the newest KEEP builds of this kind stay
    ls -1dt "$CACHE/$kind"-*/ 2>/dev/null | tail -n +$((KEEP + 1)) | xargs -r rm -rf
  fi
  rm -rf "$out/$kind"
  cp -a "$entry/$kind" "$out/$kind"
  exec 7>&-
}

for kind in "${kinds[@]}"; do
  declare -F "build_$kind" >/dev/null || die "unknown artifact $kind (python, nuget, go)"
  cached_build "$kind"
done

{
  echo "# fpgascore $version release artifacts (scripts/build-artifacts.sh), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')"
  for kind in python nuget go; do
    if [[ -d "$out/$kind" ]]; then (cd "$out" && find "$kind" -type f ! -name go.sum.txt | sort | xargs -r sha256sum); fi
  done
  if [[ -f "$out/go/go.sum.txt" ]]; then sed 's/^/go.sum: /' "$out/go/go.sum.txt"; fi
} > "$out/MANIFEST.txt.$$"
mv "$out/MANIFEST.txt.$$" "$out/MANIFEST.txt"  # whole: concurrent builds of other kinds into OUT read it
log "artifacts in $out:"
sed 's/^/  /' "$out/MANIFEST.txt" >&2
