#!/usr/bin/env bash
# The README's test command: sets the machine up (idempotent), then runs every suite and
# exits non-zero when any fails or runs no test.
#
#   scripts/test-all.sh                       # all suites
#   scripts/test-all.sh go csharp             # a subset, by name
# Suites: generated (checked-in code is fresh), lint (scripts/lint.sh: flake8, mypy --strict,
# gofmt, go vet, staticcheck, the C# analyzers as errors, dotnet format), server (tests/:
# reference server, container, the manager and the service lifecycle in process and container
# mode — tests/deployment/, TF-Serving compatibility), python (client), go, csharp, conformance
# (builds the release packages with scripts/build-artifacts.sh into out/test-all/artifacts and
# runs the matrix once on them, --artifacts, against the containerized server: what would be
# published, not the tree), soak (one minute of all three clients at once against the container
# at saturation: only OK / RESOURCE_EXHAUSTED, flat memory; `make soak` is the 10-minute run).
# At the end it prints each suite's result and seconds and writes them, with the total, to
# out/test-all/summary.json (bench/targets.py reads it for the CI-time target;
# FPGASCORE_TEST_ALL_SUMMARY names another file).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ALL_SUITES=(generated lint server python go csharp conformance soak)
suites=("$@")
(( ${#suites[@]} )) || suites=("${ALL_SUITES[@]}")

started=$(date +%s)
if [[ "${FPGASCORE_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh || die "setup failed"
fi
export FPGASCORE_SKIP_SETUP=1
# The suites that run containers hold the engine (podman's API service) for this run: started
# here only if none answers, stopped at the end only if this run was its last holder.
for suite in "${suites[@]}"; do
  case "$suite" in
    server | conformance | soak)
      trap 'scripts/containers-setup.sh --release --holder $$' EXIT
      DOCKER_HOST=$(scripts/containers-setup.sh --holder $$ | tail -n 1) || die "no container engine"
      export DOCKER_HOST
      break ;;
  esac
done

run_generated() { scripts/generate.sh --check; }
run_lint() { scripts/lint.sh; }
run_server() {
  PYTHONPATH="$REPO_ROOT/python/src:$REPO_ROOT/conformance/server/src:$REPO_ROOT/conformance/runner/src" \
    "$PYTHON" -m pytest tests -p no:cacheprovider -q
}
run_python() { scripts/test-python-client.sh -q; }
run_go() { scripts/test-go.sh; }
run_csharp() { scripts/test-csharp.sh; }
run_conformance() {
  scripts/build-artifacts.sh "$REPO_ROOT/out/test-all/artifacts" || return 1
  scripts/conformance.sh --server=container --artifacts "$REPO_ROOT/out/test-all/artifacts"
}
run_soak() { "$PYTHON" bench/soak.py --minutes 1 --check; }

declare -A outcome seconds
failed=0
for suite in "${suites[@]}"; do
  if ! declare -F "run_$suite" >/dev/null; then die "unknown suite $suite (one of ${ALL_SUITES[*]})"; fi
  log "=== suite $suite ==="
  t0=$(date +%s)
  if "run_$suite"; then outcome[$suite]=passed; else outcome[$suite]=FAILED; failed=$((failed + 1)); fi
  seconds[$suite]=$(( $(date +%s) - t0 ))
done

echo
echo "suite        result   seconds"
for suite in "${suites[@]}"; do printf '%-12s %-8s %7s\n' "$suite" "${outcome[$suite]}" "${seconds[$suite]}"; done
total=$(( $(date +%s) - started ))
echo "total: $total s"
echo "suites: $(( ${#suites[@]} - failed )) passed, $failed failed"
# The same as JSON, for make bench's table of targets (bench/targets.py: target 5, CI time).
summary=${FPGASCORE_TEST_ALL_SUMMARY:-out/test-all/summary.json}  # tests point it elsewhere
mkdir -p "$(dirname "$summary")"
{
  printf '{"finished": "%s", "total_seconds": %d, "suites": [' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$total"
  sep=""
  for suite in "${suites[@]}"; do
    printf '%s{"name": "%s", "result": "%s", "seconds": %d}' "$sep" "$suite" "${outcome[$suite]}" "${seconds[$suite]}"
    sep=", "
  done
  printf ']}\n'
} > "$summary"
exit $(( failed > 0 ))
