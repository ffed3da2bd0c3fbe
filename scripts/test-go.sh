#!/usr/bin/env bash
# Builds, lints and tests the Go module (go/) offline with the Go stack that scripts/setup.sh
# unpacks into .tools/go-stack (scripts/go-env.sh), including the tests against the reference
# server, which the tests start themselves from scripts/run-emulator.
#
#   scripts/test-go.sh                 # go.mod minimums, gofmt, go vet, staticcheck, go test -race
#   scripts/test-go.sh -run TestFake   # extra arguments go to `go test`
#
# FPGASCORE_GO_LINTED=1 (scripts/test-all.sh, when its lint suite runs too): gofmt, go vet and
# staticcheck are left to that suite (scripts/lint.sh runs the same three on the same tree).
#
# Exits non-zero on any failure, and when no test ran.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=go-env.sh
source "$here/go-env.sh"
cd "$FPGASCORE_GO_DIR"

say() { printf '[test-go] %s\n' "$*" >&2; }

say "go $(go env GOVERSION), GOWORK=$GOWORK"

# go.mod must require at least the stack this repository builds and tests with: an older
# requirement would let users resolve versions nothing here was tested against.
declare -A minimum=([google.golang.org/grpc]=v1.64.0 [google.golang.org/protobuf]=v1.36.5)
requires=$(go mod edit -json go.mod | "${FPGASCORE_PYTHON:-/usr/bin/python3}" -c '
import json, sys
for r in json.load(sys.stdin).get("Require") or []:
    print(r["Path"], r["Version"])')
for mod in "${!minimum[@]}"; do
  have=$(awk -v m="$mod" '$1 == m {print $2}' <<<"$requires")
  lowest=$(printf '%s\n%s\n' "${minimum[$mod]#v}" "${have#v}" | sort -V | head -n 1)
  if [[ -z "$have" || "$lowest" != "${minimum[$mod]#v}" ]]; then
    say "go.mod requires $mod ${have:-not at all}; it must be ${minimum[$mod]} or later"
    exit 1
  fi
  say "go.mod requires $mod $have (>= ${minimum[$mod]})"
done
if [[ "${FPGASCORE_GO_LINTED:-0}" == 1 ]]; then
  say "gofmt, go vet, staticcheck: run by this run's lint suite (scripts/lint.sh)"
else
  unformatted=$(gofmt -l $(find . -name '*.go' -not -path './fpgascorepb/*'))
  if [[ -n "$unformatted" ]]; then
    say "gofmt: these files need formatting:"; printf '  %s\n' $unformatted >&2
    exit 1
  fi
fi
say "go build ./..."
go build ./...
if [[ "${FPGASCORE_GO_LINTED:-0}" != 1 ]]; then
  say "go vet ./..."
  go vet ./...
  command -v staticcheck >/dev/null || { say "staticcheck not found in .tools/bin: run scripts/setup.sh"; exit 1; }
  say "$(staticcheck -version) ./..."
  staticcheck ./...
fi

# The reference-server tests must run, not be skipped, here.
export FPGASCORE_REQUIRE_EMULATOR=1
log=$(mktemp); trap 'rm -f "$log"' EXIT
say "go test -race -count=1 ./... $*"
set +e
go test -race -count=1 -timeout 600s -v "$@" ./... >"$log" 2>&1
status=$?
set -e
# Per-test lines for failures and skips, package lines for everything.
grep -E '^(--- (FAIL|SKIP)|FAIL|ok |panic:|\?)|^\s+\S+_test\.go:[0-9]+:' "$log" || true

passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
if (( status != 0 )); then
  tail -n 40 "$log" >&2
  echo "go: $passed passed, $failed failed, $skipped skipped"
  say "go test failed (exit $status)"
  exit "$status"
fi
if (( passed == 0 )); then
  echo "go: 0 passed, 0 failed"
  say "no test ran"
  exit 1
fi

echo "go: $passed passed, $failed failed, $skipped skipped"
