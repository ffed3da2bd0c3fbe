#!/usr/bin/env bash
# C# client vs the raw generated stub on the same payloads (csharp/FpgaScore.Benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet run -c Release --project csharp/FpgaScore.Benchmarks -- "$@"
