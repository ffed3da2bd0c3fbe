#!/usr/bin/env bash
# The README's test command: sets the machine up (idempotent), then runs every suite and
# exits non-zero when any fails or runs no test.
#
#   scripts/test-all.sh                       # all suites
#   scripts/test-all.sh go csharp             # a subset, by name
# Suites: generated (checked-in code is fresh), lint (scripts/lint.sh: flake8, mypy --strict,
# gofmt, go vet, staticcheck, the C# analyzers and style as errors, dotnet format), server (tests/:
# reference server, container, the manager and the service lifecycle in process and container
# mode — tests/deployment/, TF-Serving compatibility), python (client), go, csharp, conformance
# (builds the release packages with scripts/build-artifacts.sh into out/test-all/artifacts and
# runs the matrix once on them, --artifacts, against the containerized server: what would be
# published, not the tree), soak (one minute of all three clients at once against the container
# at saturation: only OK / RESOURCE_EXHAUSTED, flat memory; `make soak` is the 10-minute run. Its
# server is 2 FPGAs x 40 ms, 50 images/s: saturated by its own queue, about one call in seven
# RESOURCE_EXHAUSTED, with a third of the CPU a 10 ms server takes from the suites beside it).
#
# The suites run at the same time, up to FPGASCORE_TEST_JOBS (default 4) at once, the longest
# first: most of their time is waiting (servers, containers, timeouts), not the 2 CPUs of a small
# machine. Each suite's output goes to a file of its own, out/test-all/logs/RUN/SUITE.log (the 10
# newest runs are kept); when a suite ends, its result, seconds and CPU seconds are printed, with
# its last lines when it passed and its whole output when it failed. The server suite runs on
# FPGASCORE_TEST_WORKERS pytest-xdist workers (default 3; 0: in one process; tests/conftest.py
# says how its tests are grouped). What suites share is built once: the release packages
# (scripts/build-artifacts.sh's cache, by source hash, in the machine cache of
# scripts/machine-cache.sh with Go's build cache and the Go stack: shared by the clones of a
# set-up machine; FPGASCORE_CACHE_DIR=off: none), dotnet's builds of csharp/ one at a time
# per configuration (scripts/shims/dotnet, first on PATH), gofmt/go vet/staticcheck by the lint
# suite only when it runs too (FPGASCORE_GO_LINTED). FPGASCORE_TEST_JOBS=1 runs the suites one
# after another.
# At the end it prints each suite's result and seconds and writes them, with the total, to
# out/test-all/summary.json (bench/targets.py reads it for the CI-time target;
# FPGASCORE_TEST_ALL_SUMMARY names another file).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ALL_SUITES=(generated lint server python go csharp conformance soak)
START_ORDER=(server lint go soak csharp conformance python generated)  # longest first
JOBS=${FPGASCORE_TEST_JOBS:-4}
WORKERS=${FPGASCORE_TEST_WORKERS:-3}
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "FPGASCORE_TEST_JOBS must be a number >= 1, not $JOBS"
[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "FPGASCORE_TEST_WORKERS must be a number >= 0, not $WORKERS"
if (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501 )); then JOBS=1; fi  # wait -n -p: bash 5.1

run_generated() { scripts/generate.sh --check; }
run_lint() { scripts/lint.sh; }
run_server() {
  local parallel=()
  if (( WORKERS > 1 )); then
    if "$PYTHON" -c 'import xdist' 2>/dev/null; then
      parallel=(-n "$WORKERS" --dist loadgroup)
    else
      log "pytest-xdist is not installed (scripts/setup.sh installs it): the server suite runs in one process"
    fi
  fi
  PYTHONPATH="$REPO_ROOT/python/src:$REPO_ROOT/conformance/server/src:$REPO_ROOT/conformance/runner/src" \
    "$PYTHON" -m pytest tests -p no:cacheprovider -q --durations=25 "${parallel[@]}"
}
run_python() { scripts/test-python-client.sh -q; }
run_go() { scripts/test-go.sh; }
run_csharp() { scripts/test-csharp.sh; }
run_conformance() {
  scripts/build-artifacts.sh "$REPO_ROOT/out/test-all/artifacts" || return 1
  scripts/conformance.sh --server=container --artifacts "$REPO_ROOT/out/test-all/artifacts"
}
run_soak() { "$PYTHON" bench/soak.py --minutes 1 --check --service-time-ms 40; }

suites=("$@")
(( ${#suites[@]} )) || suites=("${ALL_SUITES[@]}")
declare -A selected
for suite in "${suites[@]}"; do
  declare -F "run_$suite" >/dev/null || die "unknown suite $suite (one of ${ALL_SUITES[*]})"
  selected[$suite]=1
done

started=$(date +%s)
if [[ "${FPGASCORE_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh || die "setup failed"
fi
export FPGASCORE_SKIP_SETUP=1
# The machine cache this run uses, named for all of it: tests that give a command a HOME of its own
# (the install tests) must not get an empty cache of that HOME's (a cold Go cache, a repack).
export FPGASCORE_CACHE_DIR="${MACHINE_CACHE:-off}"
export PATH="$REPO_ROOT/scripts/shims:$PATH"
[[ -n "${selected[lint]:-}" ]] && export FPGASCORE_GO_LINTED=1
# The run's C# compiles (lint's build, the C# tests, the packages, the drivers, the README programs,
# the install test's project) share one compiler server, which JIT-compiles the compiler once instead
# of once per csc: 33 -> 11 CPU-seconds for the README programs' build, 60 -> 43 for lint's.
# This machine's environment turns it off (UseSharedCompilation=false); the run stops the server
# at its end, unless it runs inside another run (a test of this script), whose server it is.
export UseSharedCompilation=true
export FPGASCORE_COMPILER_SERVER_RUN=${FPGASCORE_COMPILER_SERVER_RUN:-$$}
holding_engine=0
cleanup() {
  if [[ "$FPGASCORE_COMPILER_SERVER_RUN" == "$$" ]]; then
    dotnet build-server shutdown --vbcscompiler >/dev/null 2>&1 || true
  fi
  if (( holding_engine )); then scripts/containers-setup.sh --release --holder $$; fi
}
trap cleanup EXIT
# The suites that run containers hold the engine (podman's API service) for this run: started
# here only if none answers, stopped at the end only if this run was its last holder.
if [[ -n "${selected[server]:-}${selected[conformance]:-}${selected[soak]:-}" ]]; then
  holding_engine=1
  DOCKER_HOST=$(scripts/containers-setup.sh --holder $$ | tail -n 1) || die "no container engine"
  export DOCKER_HOST
fi

LOG_ROOT="$REPO_ROOT/out/test-all/logs"
RUN_DIR="$LOG_ROOT/$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$RUN_DIR" || die "cannot create $RUN_DIR"
ls -1dt "$LOG_ROOT"/*/ 2>/dev/null | tail -n +11 | xargs -r rm -rf

# bash's `times` ("0m1.250s 0m0.125s" lines) -> their sum, in whole seconds
cpu_seconds() {
  local word total=0
  [[ -f "$1" ]] || { echo "?"; return; }
  for word in $(<"$1"); do
    [[ "$word" =~ ^([0-9]+)m([0-9]+)\.([0-9]{3})s$ ]] || continue
    total=$(( total + 10#${BASH_REMATCH[1]} * 60000 + 10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]} ))
  done
  echo $(( (total + 500) / 1000 ))
}

# One suite, in a subshell whose output is its log: its exit code, and the CPU its processes used.
measured() {
  local suite=$1 status
  "run_$suite" </dev/null
  status=$?
  times >"$RUN_DIR/$suite.times"
  return "$status"
}

declare -A outcome seconds cpu t0 suite_of
failed=0
start_suite() {
  local suite=$1
  log "=== suite $suite === (output: ${RUN_DIR#"$REPO_ROOT"/}/$suite.log)"
  t0[$suite]=$(date +%s)
  measured "$suite" >"$RUN_DIR/$suite.log" 2>&1 &
  suite_of[$!]=$suite
}
finish_suite() {
  local suite=$1 status=$2
  seconds[$suite]=$(( $(date +%s) - t0[$suite] ))
  cpu[$suite]=$(cpu_seconds "$RUN_DIR/$suite.times")
  if (( status == 0 )); then
    outcome[$suite]=passed
    log "--- suite $suite passed (${seconds[$suite]} s, ${cpu[$suite]} s CPU); its last lines:"
    tail -n 8 "$RUN_DIR/$suite.log" | sed 's/^/    /' >&2
  else
    outcome[$suite]=FAILED
    failed=$((failed + 1))
    log "--- suite $suite FAILED (exit $status, ${seconds[$suite]} s); its output (${RUN_DIR#"$REPO_ROOT"/}/$suite.log):"
    sed 's/^/    /' "$RUN_DIR/$suite.log" >&2
    log "--- end of suite $suite's output"
  fi
}

pending=()
for suite in "${START_ORDER[@]}"; do [[ -n "${selected[$suite]:-}" ]] && pending+=("$suite"); done
running=0
while (( ${#pending[@]} + running > 0 )); do
  while (( running < JOBS && ${#pending[@]} > 0 )); do
    start_suite "${pending[0]}"
    pending=("${pending[@]:1}")
    running=$((running + 1))
  done
  if (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501 )); then
    done_pid=""
    wait -n -p done_pid
    status=$?
    [[ -n "$done_pid" && -n "${suite_of[$done_pid]:-}" ]] || die "lost track of the suites' processes"
  else
    done_pid=$(jobs -p | head -n 1)
    wait "$done_pid"
    status=$?
  fi
  finish_suite "${suite_of[$done_pid]}" "$status"
  running=$((running - 1))
done

echo
echo "suite        result   seconds"
total_cpu=0 cpu_line=""
for suite in "${suites[@]}"; do
  printf '%-12s %-8s %7s\n' "$suite" "${outcome[$suite]}" "${seconds[$suite]}"
  [[ "${cpu[$suite]}" =~ ^[0-9]+$ ]] && total_cpu=$((total_cpu + cpu[$suite]))
  cpu_line+=" $suite ${cpu[$suite]},"
done
total=$(( $(date +%s) - started ))
echo "total: $total s"
echo "cpu (user+sys of the suites' processes, s):${cpu_line%,}; sum $total_cpu (up to $JOBS suites at once)"
echo "logs: ${RUN_DIR#"$REPO_ROOT"/}"
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
