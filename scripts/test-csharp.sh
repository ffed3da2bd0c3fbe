#!/usr/bin/env bash
# Runs the C# client's tests (csharp/FpgaScore.Tests, xunit) against the reference server
# (scripts/run-emulator, started by the test fixtures on loopback), then checks that
# `dotnet pack` builds the NuGet packages (library with XML docs and README; the CLI tool).
# Fails when a test fails, when no test ran, or when packing fails.
#
#   scripts/test-csharp.sh                                   # everything
#   scripts/test-csharp.sh --filter FullyQualifiedName~Tls   # extra arguments go to dotnet test
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet restore csharp/FpgaScore.sln --verbosity quiet

set +e
dotnet test csharp/FpgaScore.sln --no-restore --logger "trx;LogFileName=csharp.trx" \
  --logger "console;verbosity=normal" --results-directory "$work/results" "$@"
status=$?
set -e

read -r passed failed total < <("$PYTHON" - "$work/results" <<'PY' || echo "0 0 0"
import pathlib, sys, xml.etree.ElementTree as ET
passed = failed = total = 0
for trx in pathlib.Path(sys.argv[1]).rglob("*.trx"):
    for counters in ET.parse(trx).getroot().iter():
        if counters.tag.endswith("Counters"):
            passed += int(counters.get("passed", 0))
            failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
            total += int(counters.get("executed", 0))
print(passed, failed, total)
PY
)

log "packing csharp/FpgaScore and csharp/FpgaScore.Cli"
dotnet pack csharp/FpgaScore/FpgaScore.csproj --no-restore -c Release -o "$work/packages" --verbosity quiet
dotnet pack csharp/FpgaScore.Cli/FpgaScore.Cli.csproj --no-restore -c Release -o "$work/packages" --verbosity quiet
pack_ok=1
"$PYTHON" - "$work/packages" <<'PY' || pack_ok=0
import pathlib, sys, zipfile
folder = pathlib.Path(sys.argv[1])
library = next(folder.glob("FpgaScore.0*.nupkg"))
names = set(zipfile.ZipFile(library).namelist())
wanted = ["README.md", "lib/net10.0/FpgaScore.dll", "lib/net10.0/FpgaScore.xml"]
missing = [n for n in wanted if n not in names]
tool = next(folder.glob("FpgaScore.Cli.*.nupkg"))
if not any(n.endswith("DotnetToolSettings.xml") for n in zipfile.ZipFile(tool).namelist()):
    missing.append(f"{tool.name}: DotnetToolSettings.xml")
if missing:
    sys.exit(f"package content missing: {missing}")
print(f"packages ok: {library.name} ({len(names)} entries), {tool.name}")
PY

printf 'csharp: %d passed, %d failed\n' "$passed" "$failed"
if (( total == 0 )); then
  die "no C# test ran"
fi
if (( status != 0 || failed != 0 )); then
  die "C# tests failed (dotnet test exit $status)"
fi
if (( pack_ok == 0 )); then
  die "dotnet pack did not build the expected packages"
fi
log "C# tests passed ($total run) and packages built"
