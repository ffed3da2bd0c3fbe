#!/usr/bin/env bash
# All benchmarks in one run, side by side (make bench). Prints numbers and writes
# out/bench/<date>/report.md; nothing is asserted on time.
#   - the TCP loopback floor for each payload size
#   - every client against its raw generated stub, same payload, same server (bench/clients.py:
#     the reference server and a native null server; the ratio's own noise, stub vs stub)
#   - the emulator: issue #21's targets (timing fidelity over 5/20/50 ms x 1/2/4 FPGAs, throughput
#     at 8 FPGAs x 5 ms for distinct and repeated images next to the null model's ceiling, CPU per
#     image with its stages; a "targets" list in emulator-targets.json), then one configuration's
#     saturation, behaviour past the queue bound and the answer encoding's cost
#   - keyed calls next to hostile peers (half-open keyless streams, worst-case images)
# and, last, one table of every target (issue #21) with its goal, measured value and met / not
# met / n/a (bench/targets.py, from each bench's JSON and scripts/test-all.sh's summary).
#   bench/run.sh                  everything (make bench)
#   bench/run.sh --only clients   the TCP floor, every client vs its stub, and the table (make bench-clients)
#   bench/run.sh --only clients -- --languages python --reps 2    options after -- go to bench/clients.py
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
only=all
clients_args=()
while (( $# )); do
  case "$1" in
    --only) only=${2:-}; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --) shift; clients_args=("$@"); break ;;
    *) die "usage: bench/run.sh [--only clients] [-- bench/clients.py's options]" ;;
  esac
done
[[ "$only" == all || "$only" == clients ]] || die "--only takes clients, not '$only'"
export PYTHONPATH="$REPO_ROOT/python/src:$REPO_ROOT/conformance/server/src:$REPO_ROOT/conformance/runner/src"
out="out/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
report="$out/report.md"
section() { printf '\n### %s\n\n```\n' "$1" >> "$report"; }
endsection() { printf '```\n' >> "$report"; }
run() { local title=$1; shift; log "$title"; section "$title"; "$@" 2>&1 | tee -a "$report"; endsection; }

{
  echo "## Benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -m)."
} > "$report"

run "TCP floor (loopback: echo of the payload, and payload out with 4,000 bytes back)" "$PYTHON" bench/tcp_floor.py --json "$out/tcp_floor.json"
run "Every client vs its raw stub (reference server: null model, service time 0; native null server; 150 KB JPEG, batch of 8, float tensor; concurrency 1 and 16; plaintext and TLS; the asyncio and C# clients at concurrency 64)" \
  "$PYTHON" bench/clients.py --json "$out/clients.json" --markdown "$out/clients.md" ${clients_args[@]+"${clients_args[@]}"}
if [[ "$only" == all ]]; then
  run "Emulator targets (issue #21: fidelity 5/20/50 ms x 1/2/4 FPGAs; throughput 8 FPGAs x 5 ms, distinct and repeated images, null-model ceiling; CPU per image and its stages; 150 KB JPEG)" \
    "$PYTHON" bench/emulator.py --targets --seconds 4 --json "$out/emulator-targets.json"
  run "Emulator, 2 FPGAs x 20 ms (150 KB JPEG, score cache off)" "$PYTHON" bench/emulator.py --service-time-ms 20 --fpgas 2 --seconds 4 --json "$out/emulator-20ms.json"
  run "Hostile peers (keyed calls at 50 % of 2 FPGAs x 20 ms; 200 keyless half-open streams; worst-case images)" \
    "$PYTHON" bench/hostile.py --seconds 10 --json "$out/hostile.json"
fi
run "Targets (issue #21): each with its goal, the value measured in this run, and met / not met / n/a" \
  "$PYTHON" bench/targets.py "$out"
log "report: $report"
