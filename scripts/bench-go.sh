#!/usr/bin/env bash
# Go client vs the raw generated stub on the same payloads (go/fpgascore/bench_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/go-env.sh
cd go
go test -run '^$' -bench 'BenchmarkClientVsRawStub' -benchmem -count 1 ./fpgascore
