#!/usr/bin/env bash
# The lint suite (scripts/test-all.sh lint, `make lint`): every static check CI runs, each
# configured in the repository. Runs them all, prints each one's name and result, and exits
# non-zero when any fails.
#
#   Python  flake8 (tox.ini [flake8]), mypy --strict (mypy.ini) on python/src/fpgascore, the
#           reference server (fpgascore_emulator) and the conformance runner (fpgascore_conformance);
#           flake8 also on the tests and benchmarks (tests/, python/tests/, bench/), with lines up
#           to 140 characters there (their long assertion messages)
#   Go      gofmt -l, go vet ./..., staticcheck ./... (go/, generated code excluded from gofmt)
#   C#      the build with the .NET analyzers and the code-style rules, TreatWarningsAsErrors
#           (csharp/Directory.Build.props, .editorconfig), dotnet format whitespace --verify-no-changes,
#           and the two style rules the compiler cannot report (scripts/csharp_style.py)
#
#   scripts/lint.sh                 # everything
#   scripts/lint.sh flake8 mypy     # a subset, by name (flake8 mypy gofmt govet staticcheck dotnet-build
#                                   # dotnet-format csharp-style; and, not in everything, dotnet-format-style)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ALL_CHECKS=(flake8 mypy gofmt govet staticcheck dotnet-build dotnet-format csharp-style)
OTHER_CHECKS=(dotnet-format-style)  # by name only
checks=("$@")
(( ${#checks[@]} )) || checks=("${ALL_CHECKS[@]}")

check_flake8() {
  "$PYTHON" -m flake8 python/src conformance/server/src conformance/runner/src &&
    "$PYTHON" -m flake8 --max-line-length 140 tests python/tests bench
}
# No incremental cache: a full run takes seconds, and a cache shared by concurrent runs can break mypy 1.0.
check_mypy() {
  "$PYTHON" -m mypy --no-incremental --cache-dir=/dev/null -p fpgascore -p fpgascore_emulator -p fpgascore_conformance
}

go_env() {
  # shellcheck source=go-env.sh
  source scripts/go-env.sh && cd "$FPGASCORE_GO_DIR"
}
check_gofmt() {
  (
    go_env || exit 1
    # go/fpgascorepb and go/internal/conformancepb are protoc's output (scripts/generate.sh), left as written.
    unformatted=$(find . -name '*.go' -not -path './fpgascorepb/*' -not -path './internal/conformancepb/*' -print0 \
                  | xargs -0 gofmt -l)
    if [[ -n "$unformatted" ]]; then
      echo "gofmt: these files need formatting (gofmt -w):"; printf '  %s\n' $unformatted
      exit 1
    fi
  )
}
check_govet() { ( go_env || exit 1; go vet ./... ); }
check_staticcheck() {
  (
    go_env || exit 1
    command -v staticcheck >/dev/null || { echo "staticcheck not found in .tools/bin: run scripts/setup.sh"; exit 1; }
    staticcheck ./...
  )
}

# The analyzers and the code-style rules run in the compiler (EnforceCodeStyleInBuild); their
# warnings fail it (TreatWarningsAsErrors, csharp/Directory.Build.props, ../.editorconfig).
check_dotnet-build() {
  dotnet build csharp/FpgaScore.sln --nologo -v q -clp:NoSummary
}
# dotnet format whitespace: the formatter's rules of .editorconfig, final newlines, line endings, on
# the files as text (--folder: no MSBuild workspace, no compilation; obj/ and bin/ are left out). The
# other rules and the analyzers are dotnet-build's, so `style` and `analyzers` would only repeat them,
# but for two the compiler never reports, whatever their severity (Roslyn's EnforceOnBuild.Never):
# IDE0003 (no this.) and IDE0049 (int, not Int32). csharp-style checks them on the tokens in a tenth
# of a second; dotnet-format-style has Roslyn check them (30 CPU-seconds: a compiled workspace of the
# solution). tests/test_csharp_style.py has the two agree on a file of every case.
check_dotnet-format() {
  dotnet format whitespace csharp --folder --verify-no-changes -v q --exclude csharp/*/obj csharp/*/bin
}
check_csharp-style() { "$PYTHON" scripts/csharp_style.py csharp; }
check_dotnet-format-style() {
  dotnet format style csharp/FpgaScore.sln --verify-no-changes --no-restore -v q --diagnostics IDE0003 IDE0049
}

declare -A outcome seconds
failed=0
for check in "${checks[@]}"; do
  if ! declare -F "check_$check" >/dev/null; then die "unknown check $check (one of ${ALL_CHECKS[*]} ${OTHER_CHECKS[*]})"; fi
  log "--- lint: $check ---"
  t0=$(date +%s)
  if "check_$check"; then outcome[$check]=passed; else outcome[$check]=FAILED; failed=$((failed + 1)); fi
  seconds[$check]=$(( $(date +%s) - t0 ))
  log "--- lint: $check ${outcome[$check]} (${seconds[$check]} s) ---"
done

echo
echo "check          result   seconds"
for check in "${checks[@]}"; do printf '%-14s %-8s %7s\n' "$check" "${outcome[$check]}" "${seconds[$check]}"; done
echo "lint: $(( ${#checks[@]} - failed )) passed, $failed failed"
exit $(( failed > 0 ))
