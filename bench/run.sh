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
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
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
run "Every client vs its raw stub (reference server: null model, service time 0; native null server; 150 KB JPEG, batch of 8, float tensor; concurrency 1 and 16; plaintext and TLS)" \
  "$PYTHON" bench/clients.py --json "$out/clients.json" --markdown "$out/clients.md"
run "Emulator targets (issue #21: fidelity 5/20/50 ms x 1/2/4 FPGAs; throughput 8 FPGAs x 5 ms, distinct and repeated images, null-model ceiling; CPU per image and its stages; 150 KB JPEG)" \
  "$PYTHON" bench/emulator.py --targets --seconds 4 --json "$out/emulator-targets.json"
run "Emulator, 2 FPGAs x 20 ms (150 KB JPEG, score cache off)" "$PYTHON" bench/emulator.py --service-time-ms 20 --fpgas 2 --seconds 4 --json "$out/emulator-20ms.json"
run "Hostile peers (keyed calls at 50 % of 2 FPGAs x 20 ms; 200 keyless half-open streams; worst-case images)" \
  "$PYTHON" bench/hostile.py --seconds 10 --json "$out/hostile.json"
log "report: $report"
