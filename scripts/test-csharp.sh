#!/usr/bin/env bash
# Runs the C# client's tests (csharp/FpgaScore.Tests, xunit) against the reference server
# (scripts/run-emulator, started by the test fixtures on loopback), then checks that
# `dotnet pack` builds the NuGet packages (library with XML docs, the CLI tool; each with LICENSE,
# README, the repository URL and the VERSION file's version in its nuspec, and a .snupkg).
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

# Built (and restored) first, then tested without building: concurrent suites build csharp/ one at
# a time per configuration (scripts/shims/dotnet), and the tests' run does not need to hold that turn.
set +e
dotnet build csharp/FpgaScore.sln --nologo -v q -clp:NoSummary
status=$?
if (( status == 0 )); then
  dotnet test csharp/FpgaScore.sln --no-build --logger "trx;LogFileName=csharp.trx" \
    --logger "console;verbosity=normal" --results-directory "$work/results" "$@"
  status=$?
fi
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

# The packages as a release builds them (scripts/build-artifacts.sh: once per set of sources, shared
# with the other suites of a run).
log "packing csharp/FpgaScore and csharp/FpgaScore.Cli"
scripts/build-artifacts.sh "$work/artifacts" nuget
pack_ok=1
"$PYTHON" - "$work/artifacts/nuget" "$REPO_ROOT" <<'PY' || pack_ok=0
import pathlib, re, sys, zipfile
import xml.etree.ElementTree as ET
folder, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
version = (root / "VERSION").read_text().strip()
url = "https://github.com/fpgascore/fpgascore"
problems = []
# Every package: LICENSE and README inside, the nuspec's version, license, URLs, authors, and a
# .snupkg beside it. The README's links must be absolute (nuget.org resolves no relative link).
for package_id, wanted in (("FpgaScore", ["lib/net10.0/FpgaScore.dll", "lib/net10.0/FpgaScore.xml",
                                           "lib/net8.0/FpgaScore.dll"]),
                           ("FpgaScore.Cli", ["tools/net10.0/any/DotnetToolSettings.xml"])):
    nupkg = folder / f"{package_id}.{version}.nupkg"
    if not nupkg.exists():
        problems.append(f"no {nupkg.name} (version {version} from VERSION) in {sorted(p.name for p in folder.iterdir())}")
        continue
    snupkg = folder / f"{package_id}.{version}.snupkg"
    if not snupkg.exists():
        problems.append(f"no {package_id}.{version}.snupkg beside {nupkg.name}")
    # No path of the clone that built it (deterministic source paths, /_/): the same package from
    # every clone of a commit, which the machine's artifact cache hands to all of them.
    for package in (nupkg, snupkg):
        if package.exists():
            with zipfile.ZipFile(package) as z:
                problems += [f"{package.name}: {n} names the folder it was built in ({root})"
                             for n in z.namelist() if n.endswith((".dll", ".pdb")) and str(root).encode() in z.read(n)]
    with zipfile.ZipFile(nupkg) as z:
        names = set(z.namelist())
        problems += [f"{nupkg.name}: {n} missing" for n in ["LICENSE", "README.md", *wanted] if n not in names]
        spec = ET.fromstring(z.read(f"{package_id}.nuspec"))
        readme = z.read("README.md").decode() if "README.md" in names else ""
    meta = {el.tag.split("}")[1]: el for el in spec.find("{*}metadata")}
    text = {tag: (el.text or "").strip() for tag, el in meta.items()}
    repository = meta.get("repository")
    for what, have, want in (("version", text.get("version"), version), ("license", text.get("license"), "Apache-2.0"),
                             ("projectUrl", text.get("projectUrl"), url), ("authors", text.get("authors"), "fpgascore"),
                             ("readme", text.get("readme"), "README.md"),
                             ("repository url", repository.get("url") if repository is not None else None, url),
                             ("repository type", repository.get("type") if repository is not None else None, "git")):
        if have != want:
            problems.append(f"{nupkg.name}: nuspec {what} is {have!r}, not {want!r}")
    relative = [t for t in re.findall(r"\]\(([^)\s]+)", readme) if not re.match(r"(https?:|mailto:|#)", t)]
    if relative:
        problems.append(f"{nupkg.name}: README.md has relative links {relative}")
    print(f"{nupkg.name}: {len(names)} entries, version {text.get('version')}, repository {repository.get('url') if repository is not None else None}")
if problems:
    sys.exit("package problems:\n  " + "\n  ".join(problems))
print(f"packages ok: FpgaScore and FpgaScore.Cli {version}, each with LICENSE, README, repository URL and a .snupkg")
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
