"""--artifacts DIR: the built-in drivers built on the release packages instead of the tree.

DIR is what scripts/build-artifacts.sh writes:

    DIR/python/fpgascore-X.Y.Z-py3-none-any.whl
    DIR/nuget/FpgaScore.X.Y.Z.nupkg                   (a local NuGet feed)
    DIR/go/<module>/@v/vX.Y.Z.{info,mod,zip}          (a file:// Go module proxy)

Each built-in driver is then built as a user of the package would build it, outside the tree:

* python: a fresh virtual environment (``--system-site-packages``: Debian's grpcio, protobuf
  and numpy) with the wheel installed by ``pip install --no-deps --no-index``; the driver
  (conformance/drivers/python/driver.py) runs on that environment's python with only
  conformance/runner/src (the protocol's generated types) on PYTHONPATH, never python/src.
  The build checks ``driver.py --where``: the client is the wheel's, inside the environment.
* csharp: a fresh project (the driver's sources from csharp/FpgaScore.Conformance, compiled
  there, not copied) with a PackageReference to FpgaScore at exactly the package's version,
  restored through a nuget.config whose sources are the local feed DIR/nuget (the only one
  FpgaScore may come from) and the machine's NuGet sources (third-party packages), into a
  packages folder of its own. The build checks that the restored package is the .nupkg
  (its sha512) and that the FpgaScore.dll beside the driver is the package's.
* go: a separate module that requires the client module at the artifact's version, resolved
  from DIR/go as GOPROXY=file://... (its own module cache; the client's dependencies from the
  Go stack, as the workspace of scripts/go-env.sh replaces them). Its main package is the
  driver of go/cmd/fpgascore-conformance, copied at build time with the driver protocol's
  generated types (go/internal/conformancepb: internal, so another module cannot import it;
  copied beside the driver as its own package); every other import must be the module's
  public API. The build checks the binary's build information: the client module at the
  artifact's version with the zip's hash, not replaced.

A build is kept under .tools/artifact-drivers/<language>-<key> (the key: the package's
bytes, the driver's sources and this file) and reused while they are the same. Build steps
are commands (``python -m fpgascore_conformance.artifacts build LANGUAGE DIR BUILD``) so
that they run like the tree's builds (drivers.build: one at a time, output in the run's
build log).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import drivers

REPO_ROOT = drivers.REPO_ROOT
BUILD_ROOT = drivers.TOOLS / "artifact-drivers"
KEEP_BUILDS = 3   # per language
RUNNER_SRC = REPO_ROOT / "conformance" / "runner" / "src"
PYTHON_DRIVER = REPO_ROOT / "conformance" / "drivers" / "python" / "driver.py"
GO_DRIVER = REPO_ROOT / "go" / "cmd" / "fpgascore-conformance"
GO_PROTOCOL = REPO_ROOT / "go" / "internal" / "conformancepb"
CS_DRIVER = REPO_ROOT / "csharp" / "FpgaScore.Conformance"
DRIVER_PROTO = REPO_ROOT / "proto" / "fpgascore" / "conformance" / "v1" / "driver.proto"
DRIVER_MODULE = "fpgascore.example/conformance-driver"   # the separate Go module's path


class ArtifactError(Exception):
    """The artifacts folder lacks a package, or a build is not on the package."""


@dataclasses.dataclass(frozen=True)
class Artifact:
    language: str                 # the driver it is for
    path: pathlib.Path            # the package file (Go: the module zip)
    version: str                  # the client's version, X.Y.Z
    digest: str                   # sha256 of the file (Go: the go.sum hash, h1:...)
    name: str                     # what it is, e.g. "fpgascore-0.1.0-py3-none-any.whl"

    def describe(self) -> str:
        return f"{self.name} ({self.digest[:19] if self.digest.startswith('h1:') else 'sha256 ' + self.digest[:12]})"


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def go_zip_hash(path: pathlib.Path) -> str:
    """Go's h1: hash of a module zip (dirhash.HashZip with Hash1), as go.sum records it."""
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if not n.endswith("/"))
        summary = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in names)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def go_module_path() -> str:
    """The client module's path (go/go.mod): the module the artifact must be."""
    found = re.search(r"^module\s+(\S+)", (REPO_ROOT / "go" / "go.mod").read_text(), re.M)
    if found is None:
        raise ArtifactError("go/go.mod names no module")
    return found.group(1)


def _escape(path: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def _one(found: List[pathlib.Path], what: str, where: pathlib.Path) -> pathlib.Path:
    if len(found) != 1:
        listing = sorted(p.name for p in where.iterdir()) if where.is_dir() else "no such folder"
        raise ArtifactError(f"--artifacts: want one {what} in {where}, found {len(found)} ({listing}); "
                            f"scripts/build-artifacts.sh DIR writes them")
    return found[0]


def find(directory: pathlib.Path, languages: Sequence[str]) -> Dict[str, Artifact]:
    """The package of each of LANGUAGES in DIRECTORY (ArtifactError when one is missing)."""
    found: Dict[str, Artifact] = {}
    for language in languages:
        if language == "python":
            folder = directory / "python"
            wheel = _one(sorted(folder.glob("fpgascore-*.whl")), "fpgascore wheel", folder)
            version = wheel.name.split("-")[1]
            found[language] = Artifact(language, wheel, version, sha256(wheel), wheel.name)
        elif language == "csharp":
            folder = directory / "nuget"
            packages = [p for p in folder.glob("FpgaScore.*.nupkg")   # not FpgaScore.Cli.*
                        if re.fullmatch(r"FpgaScore\.[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?\.nupkg", p.name)]
            nupkg = _one(sorted(packages), "FpgaScore .nupkg", folder)
            version = nupkg.name[len("FpgaScore."):-len(".nupkg")]
            found[language] = Artifact(language, nupkg, version, sha256(nupkg), nupkg.name)
        elif language == "go":
            module = go_module_path()
            folder = directory / "go" / _escape(module) / "@v"
            archive = _one(sorted(folder.glob("v*.zip")), f"{module} module zip", folder)
            tag = archive.name[:-len(".zip")]
            for suffix in (".mod", ".info"):
                if not (folder / (tag + suffix)).is_file():
                    raise ArtifactError(f"--artifacts: {folder / (tag + suffix)} is missing beside {archive.name}")
            found[language] = Artifact(language, archive, tag[1:], go_zip_hash(archive), f"{module}@{tag}")
        else:
            raise ArtifactError(f"--artifacts: no package for the {language} driver")
    return found


# ----- the driver specs ------------------------------------------------------------------------

def _files_key(paths: Sequence[pathlib.Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _driver_sources(language: str) -> List[pathlib.Path]:
    if language == "python":
        return [PYTHON_DRIVER]
    if language == "go":
        return (sorted(p for p in GO_DRIVER.glob("*.go") if not p.name.endswith("_test.go"))
                + sorted(GO_PROTOCOL.glob("*.go")))
    return sorted(CS_DRIVER.glob("*.cs")) + [CS_DRIVER / "FpgaScore.Conformance.csproj", DRIVER_PROTO]


def _build_inputs(language: str) -> List[pathlib.Path]:
    """What else a build is made of: the Go stack's workspace (the dependencies' sources)."""
    gowork = drivers.TOOLS / "gowork" / "go.work"
    return [gowork] if language == "go" and gowork.is_file() else []


def build_dir(artifact: Artifact) -> pathlib.Path:
    key = _files_key([artifact.path, pathlib.Path(__file__).resolve(), *_driver_sources(artifact.language),
                      *_build_inputs(artifact.language)])
    return BUILD_ROOT / f"{artifact.language}-{key[:16]}"


def specs(directory: pathlib.Path, found: Dict[str, Artifact]) -> Dict[str, drivers.DriverSpec]:
    """The built-in drivers' specs on the packages: run from each package's build folder."""
    out: Dict[str, drivers.DriverSpec] = {}
    python = drivers.python_executable()
    env = {"PYTHONPATH": str(RUNNER_SRC)}   # the build command's and the Python driver's: never python/src
    for language, artifact in found.items():
        folder = build_dir(artifact)
        build = [python, "-m", "fpgascore_conformance.artifacts", "build", language, str(directory), str(folder)]
        if language == "python":
            run = [str(folder / "venv" / "bin" / "python"), str(PYTHON_DRIVER)]
        elif language == "go":
            run = [str(folder / "fpgascore-conformance")]
            build = ["bash", "-c", 'source scripts/go-env.sh && exec "$@"', "go-env", *build]
        else:
            run = ["dotnet", str(folder / "out" / "FpgaScore.Conformance.dll")]
        base = drivers.DRIVERS[language]
        out[language] = dataclasses.replace(base, run=run, build=build, env={**base.env, **env},
                                            client_version=artifact.version)
    return out


# ----- building (python -m fpgascore_conformance.artifacts build LANGUAGE DIR BUILD) ----------

Command = Sequence[Union[str, pathlib.Path]]


def _run(argv: Command, **kwargs: Any) -> "subprocess.CompletedProcess[Any]":
    print("+ " + " ".join(str(a) for a in argv), flush=True)
    return subprocess.run([str(a) for a in argv], check=True, stdin=subprocess.DEVNULL, **kwargs)


def _compile(argv: Command, **kwargs: Any) -> None:
    """Runs a build (its output into the log); a failure names the first error it printed."""
    print("+ " + " ".join(str(a) for a in argv), flush=True)
    done = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kwargs)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        lines = done.stdout.splitlines()
        first = next((line for pattern in (r"\.go:\d+:\d+: ", r": error ", r"^go: (?!downloading)")
                      for line in lines if re.search(pattern, line)), "")
        _fail(f"`{pathlib.Path(str(argv[0])).name} {argv[1]}` exited with {done.returncode}"
              + (f": {first.strip()[:300]}" if first else ""))


def _fail(message: str) -> None:
    raise ArtifactError(message)


def build_python(artifact: Artifact, folder: pathlib.Path) -> Dict[str, Any]:
    venv = folder / "venv"
    # No pip of its own (small, quick): the machine's pip installs into it (pip --python).
    _run([drivers.python_executable(), "-m", "venv", "--without-pip", "--system-site-packages", venv])
    _run([drivers.python_executable(), "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps",
          "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet", artifact.path])
    return check_python(artifact, folder)


def check_python(artifact: Artifact, folder: pathlib.Path) -> Dict[str, Any]:
    """``driver.py --where`` as the runner will start it: the client must be the wheel's."""
    venv = (folder / "venv").resolve()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = str(RUNNER_SRC)
    out = _run([venv / "bin" / "python", PYTHON_DRIVER, "--where"], cwd=REPO_ROOT, env=env,
               capture_output=True, text=True)
    where = json.loads(out.stdout)
    loaded = pathlib.Path(where["fpgascore"])
    if not loaded.is_relative_to(venv) or "site-packages" not in loaded.parts:
        _fail(f"the Python driver loads fpgascore from {loaded}, not from the wheel installed in {venv}")
    if loaded.is_relative_to(REPO_ROOT / "python"):
        _fail(f"the Python driver loads fpgascore from the checkout ({loaded})")
    if where["version"] != artifact.version:
        _fail(f"the installed fpgascore says version {where['version']}, the wheel is {artifact.version}")
    return {"client": str(loaded), "version": where["version"]}


def _go_replacements(module: str) -> List[str]:
    """The replace lines of scripts/go-env.sh's workspace (the Go stack's sources for the
    client's dependencies), without the client module itself."""
    gowork = pathlib.Path(os.environ.get("GOWORK") or drivers.TOOLS / "gowork" / "go.work")
    if not gowork.is_file():
        _fail(f"no Go workspace {gowork}: the build runs after `source scripts/go-env.sh`")
    lines = [line for line in gowork.read_text().splitlines() if line.startswith("replace ")]
    return [line for line in lines if line.split()[1] != module]


def build_go(artifact: Artifact, directory: pathlib.Path, folder: pathlib.Path) -> Dict[str, Any]:
    module = go_module_path()
    source = folder / "src"
    (source / "conformancepb").mkdir(parents=True)
    internal = f'"{module}/internal/conformancepb"'
    for path in _driver_sources("go"):
        text = path.read_text()
        if path.parent == GO_PROTOCOL:
            (source / "conformancepb" / path.name).write_text(text)
            continue
        text = text.replace(internal, f'"{DRIVER_MODULE}/conformancepb"')
        hidden = re.findall(rf'"{re.escape(module)}/(?:[^"]*/)?internal(?:/[^"]*)?"', text)
        if hidden:
            name = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            packages = ", ".join(h.strip('"') for h in hidden)
            _fail(f"{name} imports {packages}: internal to the client module, which another "
                  f"module cannot import (only the driver protocol's types are copied beside the driver)")
        (source / path.name).write_text(text)
    (source / "go.mod").write_text(
        f"module {DRIVER_MODULE}\n\ngo 1.21\n\nrequire {module} v{artifact.version}\n\n"
        + "\n".join(_go_replacements(module)) + "\n")
    env = {**os.environ, "GOWORK": "off", "GOPROXY": "file://" + str((directory / "go").resolve()),
           "GOSUMDB": "off", "GONOSUMDB": "", "GOPRIVATE": "", "GOFLAGS": "-mod=mod -modcacherw",
           "GOMODCACHE": str(folder / "modcache"), "GOTOOLCHAIN": "local"}
    binary = folder / "fpgascore-conformance"
    _compile(["go", "build", "-o", binary, "."], cwd=source, env=env)
    return check_go(artifact, folder)


def check_go(artifact: Artifact, folder: pathlib.Path) -> Dict[str, Any]:
    """The binary's build information: the client module at the artifact's version and hash."""
    module = go_module_path()
    info = _run(["go", "version", "-m", folder / "fpgascore-conformance"], capture_output=True, text=True).stdout
    rows = [line.split("\t")[1:] for line in info.splitlines() if line.startswith("\t")]
    deps = [row for row in rows if row and row[0] in ("dep", "=>") and len(row) > 1]
    mine = [i for i, row in enumerate(deps) if row[0] == "dep" and row[1] == module]
    if not mine:
        _fail(f"the Go driver's build information names no {module}:\n{info}")
    row = deps[mine[0]]
    replaced = mine[0] + 1 < len(deps) and deps[mine[0] + 1][0] == "=>"
    if replaced or row[2:3] != [f"v{artifact.version}"] or row[3:4] != [artifact.digest]:
        _fail(f"the Go driver is not built on {artifact.name} ({artifact.digest}): its build information says "
              f"{' '.join(row)}" + (" (replaced)" if replaced else ""))
    return {"client": f"{row[1]}@{row[2]} {row[3]}", "version": artifact.version}


def _nuget_sources() -> List[str]:
    """The machine's enabled NuGet sources (for the third-party packages)."""
    try:
        listed = subprocess.run(["dotnet", "nuget", "list", "source", "--format", "Short"], capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    sources = [line.split(None, 1)[1].strip() for line in listed.splitlines() if line.startswith("E ")]
    return sources or ["https://api.nuget.org/v3/index.json"]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def build_csharp(artifact: Artifact, directory: pathlib.Path, folder: pathlib.Path) -> Dict[str, Any]:
    feed = (directory / "nuget").resolve()
    project = (CS_DRIVER / "FpgaScore.Conformance.csproj").read_text()
    tools = re.search(r'Include="Grpc\.Tools" Version="([^"]+)"', project)
    if tools is None:
        raise ArtifactError(f"{CS_DRIVER / 'FpgaScore.Conformance.csproj'} names no Grpc.Tools version")
    if not tools:
        _fail("csharp/FpgaScore.Conformance/FpgaScore.Conformance.csproj names no Grpc.Tools version")
    machine = pathlib.Path(os.environ.get("NUGET_PACKAGES") or pathlib.Path.home() / ".nuget" / "packages")
    sources = _nuget_sources()
    folder.mkdir(parents=True, exist_ok=True)
    # FpgaScore only from the feed (package source mapping); everything else from the machine's
    # sources. The packages folder is this build's own, so that no earlier FpgaScore of the same
    # version (another build's) is taken for this one; the machine's folder is a fallback for
    # the third-party packages.
    (folder / "nuget.config").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
        f'  <config>\n    <add key="globalPackagesFolder" value="{_xml(str(folder / "packages"))}" />\n  </config>\n'
        '  <packageSources>\n    <clear />\n'
        f'    <add key="fpgascore-artifacts" value="{_xml(str(feed))}" />\n'
        + "".join(f'    <add key="machine-{i}" value="{_xml(s)}" />\n' for i, s in enumerate(sources)) +
        '  </packageSources>\n'
        + (f'  <fallbackPackageFolders>\n    <add key="machine" value="{_xml(str(machine))}" />\n'
           '  </fallbackPackageFolders>\n' if machine.is_dir() else "") +
        '  <packageSourceMapping>\n'
        '    <packageSource key="fpgascore-artifacts">\n      <package pattern="FpgaScore" />\n'
        '      <package pattern="FpgaScore.*" />\n    </packageSource>\n'
        + "".join(f'    <packageSource key="machine-{i}">\n      <package pattern="*" />\n    </packageSource>\n'
                  for i in range(len(sources))) +
        '  </packageSourceMapping>\n</configuration>\n')
    (folder / "FpgaScore.Conformance.csproj").write_text(f"""<Project Sdk="Microsoft.NET.Sdk">
  <!-- The conformance driver on the FpgaScore package {artifact.version} (written by the conformance runner's
       artifacts mode): the sources of csharp/FpgaScore.Conformance, the package from the local feed. -->
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <RootNamespace>FpgaScore.Conformance</RootNamespace>
    <AssemblyName>FpgaScore.Conformance</AssemblyName>
    <LangVersion>latest</LangVersion>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <InvariantGlobalization>true</InvariantGlobalization>
    <EnableDefaultCompileItems>false</EnableDefaultCompileItems>
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="{_xml(str(CS_DRIVER))}/*.cs" />
    <PackageReference Include="FpgaScore" Version="[{artifact.version}]" />
    <PackageReference Include="Grpc.Tools" Version="{tools.group(1)}" PrivateAssets="All" />
    <Protobuf Include="{_xml(str(DRIVER_PROTO))}" ProtoRoot="{_xml(str(REPO_ROOT / 'proto'))}"
              GrpcServices="None" Access="Public" />
  </ItemGroup>
</Project>
""")
    env = {**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"}
    env.pop("NUGET_PACKAGES", None)   # it would win over the nuget.config's packages folder
    _compile(["dotnet", "build", folder / "FpgaScore.Conformance.csproj", "-c", "Release", "-o", folder / "out",
              "--nologo", "-v", "quiet", "-p:ImportDirectoryBuildProps=false", "-p:ImportDirectoryBuildTargets=false"],
             cwd=folder, env=env)
    return check_csharp(artifact, folder)


def check_csharp(artifact: Artifact, folder: pathlib.Path) -> Dict[str, Any]:
    """The restored FpgaScore is the .nupkg, and the driver's FpgaScore.dll is the package's."""
    assets = json.loads((folder / "obj" / "project.assets.json").read_text())
    library = assets.get("libraries", {}).get(f"FpgaScore/{artifact.version}")
    if library is None:
        _fail(f"the C# driver's restore has no FpgaScore/{artifact.version}: {sorted(assets.get('libraries', {}))}")
    wanted = base64.b64encode(hashlib.sha512(artifact.path.read_bytes()).digest()).decode()
    if library.get("sha512") != wanted:
        _fail(f"the restored FpgaScore {artifact.version} is not {artifact.path} (sha512 differs): an older package "
              f"of that version in a packages folder? ({library.get('path')})")
    with zipfile.ZipFile(artifact.path) as z:
        packaged = z.read("lib/net10.0/FpgaScore.dll")
    if (folder / "out" / "FpgaScore.dll").read_bytes() != packaged:
        _fail("the C# driver's FpgaScore.dll is not the package's lib/net10.0/FpgaScore.dll")
    return {"client": f"FpgaScore {artifact.version} (sha512 {wanted[:16]}...)", "version": artifact.version}


def _prune(folder: pathlib.Path, language: str) -> None:
    """Removes the language's builds beyond the newest KEEP_BUILDS that no run used for an hour."""
    builds = sorted((p for p in BUILD_ROOT.glob(f"{language}-*") if p.is_dir() and p != folder),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP_BUILDS - 1:]:
        if time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)


def build(language: str, directory: pathlib.Path, folder: pathlib.Path) -> int:
    artifact = find(directory, [language])[language]
    done = folder / "built.json"
    checks: Dict[str, Callable[[], Dict[str, Any]]] = {
        "python": lambda: check_python(artifact, folder), "go": lambda: check_go(artifact, folder),
        "csharp": lambda: check_csharp(artifact, folder)}
    if done.is_file():
        print(f"{language} driver on {artifact.name}: built before in {folder}", flush=True)
        outcome = checks[language]()
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        print(f"{language} driver on {artifact.path} ({artifact.digest}) in {folder}", flush=True)
        if language == "python":
            outcome = build_python(artifact, folder)
        elif language == "go":
            outcome = build_go(artifact, directory, folder)
        else:
            outcome = build_csharp(artifact, directory, folder)
        done.write_text(json.dumps({**outcome, "artifact": str(artifact.path), "digest": artifact.digest}) + "\n")
    os.utime(folder)
    _prune(folder, language)
    print(f"{language} driver: client {outcome['client']}, version {outcome['version']}", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4 or args[0] != "build" or args[1] not in drivers.LANGUAGES:
        print("usage: python -m fpgascore_conformance.artifacts build {python,go,csharp} ARTIFACTS_DIR BUILD_DIR",
              file=sys.stderr)
        return 2
    try:
        return build(args[1], pathlib.Path(args[2]).resolve(), pathlib.Path(args[3]))
    except ArtifactError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as error:
        command = " ".join(pathlib.Path(str(a)).name if i == 0 else str(a) for i, a in enumerate(error.cmd[:2]))
        print(f"error: `{command}` exited with {error.returncode}", file=sys.stderr, flush=True)
        if error.stdout or error.stderr:
            print(f"{error.stdout or ''}{error.stderr or ''}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
