"""Every code block of every Markdown file of the repository runs as written, against the
reference server, or is marked as not runnable here with a reason (tests/docs/snippets.py says
how a block is found and marked). A failure names the file and the line of the block's fence.

How the blocks run (one work directory for the session, `workspace`):

- The work directory looks like a checkout: `scripts/`, `python/`, `conformance/`, `go/`,
  `csharp/`, `proto/` and `VERSION` are symlinks to the repository. `scripts/make-dev-certs --out
  tls` has made `tls/` there, `FPGASCORE_KEY` holds a fresh key, and a reference server runs
  with TLS (`tls/server.pem`) and that key, health checks on, on free ports: every `50051` in a
  block is replaced by the server's port and every `50052` by its health port (the READMEs
  show the emulator's default ports). Nothing else in a block is changed.
- python: `python3 -` (the interpreter running the tests: Debian's) in the work directory, with
  `PYTHONPATH=python/src` (the checkout's package, as the READMEs say to run from a checkout).
- go: each block is a complete `package main`, put in a directory of its own in one temp module
  (outside the repository) that requires github.com/fpgascore/fpgascore/go with a `replace`
  to the checkout's go/ and the offline workspace's replacements for its dependencies
  (scripts/go-env.sh); each built once, each run in the work directory.
- csharp: each block is a complete top-level program (`dotnet new console`'s settings: implicit
  usings, nullable), a console project of its own referencing csharp/FpgaScore; all built by
  one `dotnet build`, each run in the work directory.
- sh: `bash -e -c BLOCK` in the work directory, without PYTHONPATH (a block that needs it sets it).
- A block that names port 50055 (the manager's default) gets a manager of its own
  (`scripts/run-emulator manage`, process runtime) on a free port with the model `resnet50`
  registered, and `FPGASCORE_ADMIN_TOKEN` set; the services it leaves are stopped at the end.
- sh marked `server`: the block starts a server in the background (`... &`); it runs in its own
  copy of the work directory and process group, with 50051/50052 replaced by other free ports,
  until its port accepts connections; then an image is scored there (with TLS trusting the
  block's tls/ca.pem when it made one, and the key it exported as FPGASCORE_KEY or wrote to
  `key`, if any), and the group is stopped.
"""
from __future__ import annotations

import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List

import pytest

from deployment.managers import ManagerProcess
from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from .snippets import OTHER_LANGUAGES, ROOT, Block, all_blocks

LINKED = ("scripts", "python", "conformance", "go", "csharp", "proto", "VERSION")
BLOCKS = all_blocks()
RUN = [b for b in BLOCKS if b.language in ("python", "go", "csharp", "sh") and b.marker in (None, "server")]
GO_MODULE = "github.com/fpgascore/fpgascore/go"


def slug(block: Block) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9]", "_", block.where)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def checkout_like(directory: pathlib.Path) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        (directory / name).symlink_to(ROOT / name)
    return directory


def base_env() -> Dict[str, str]:
    # No FPGASCORE_ setting but the machine cache's folder (scripts/machine-cache.sh; scripts/test-all.sh
    # names it): the builds a README's commands make are shared with the run's, also under a HOME of
    # the test's own.
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("FPGASCORE_") or k == "FPGASCORE_CACHE_DIR") and k != "PYTHONPATH"}
    # `python3` is the Python running the tests (Debian's, with the apt-installed grpcio), as on a Debian machine;
    # `dotnet` builds csharp/ one at a time with concurrent tests (scripts/shims/dotnet, tests/conftest.py).
    env["PATH"] = os.pathsep.join([str(ROOT / "scripts" / "shims"), os.path.dirname(sys.executable),
                                   env.get("PATH", "")])
    env["DOTNET_CLI_TELEMETRY_OPTOUT"] = env["DOTNET_NOLOGO"] = "1"
    return env


class Workspace:
    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = checkout_like(directory)
        subprocess.run([str(ROOT / "scripts" / "make-dev-certs"), "--out", "tls"], cwd=self.dir, check=True,
                       capture_output=True)
        self.key = secrets.token_urlsafe(24)
        self.health_port = free_port()
        self.server = EmulatorProcess(ServerConfig(
            tls_cert=self.dir / "tls" / "server.pem", tls_key=self.dir / "tls" / "server-key.pem",
            primary_key=self.key, conformance=False,
            extra_env={"FPGASCORE_HEALTH_PORT": str(self.health_port)}))
        self.server.start()

    def rewrite(self, code: str) -> str:
        return code.replace("50051", str(self.server.port)).replace("50052", str(self.health_port))

    def env(self, **extra: str) -> Dict[str, str]:
        return {**base_env(), "FPGASCORE_KEY": self.key, **extra}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    space = Workspace(tmp_path_factory.mktemp("snippets") / "work")
    yield space
    space.server.stop()


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    import fpgascore

    token = secrets.token_urlsafe(24)
    process = ManagerProcess(tmp_path_factory.mktemp("manager") / "state", token).start()
    try:
        with fpgascore.DeploymentClient(process.address, admin_token=token) as deployments:
            deployments.register_model("resnet50")
        yield process
    finally:
        process.stop()
        for pid in process.server_pids():
            os.kill(pid, signal.SIGTERM)


def outcome(block: Block, result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"{block.where}: the {block.language} block failed (exit {result.returncode}):\n"
        f"{block.code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")


# ---- Go: every block its own main package in one temp module -------------------------------------

def go_env() -> Dict[str, str]:
    out = subprocess.run(["bash", "-c", "source scripts/go-env.sh >/dev/null && env -0"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def go_module(directory: pathlib.Path, workspace_file: pathlib.Path, blocks: List[Block]) -> None:
    replaces = [line for line in workspace_file.read_text().splitlines() if line.startswith("replace ")]
    (directory / "go.mod").write_text(
        f"module snippets\n\ngo 1.21\n\nrequire {GO_MODULE} v0.0.0\n\nreplace {GO_MODULE} => {ROOT / 'go'}\n"
        + "\n".join(replaces) + "\n")
    for block in blocks:
        (directory / slug(block)).mkdir()
        (directory / slug(block) / "main.go").write_text(block.code)


@pytest.fixture(scope="module")
def go_build(tmp_path_factory, workspace, request):
    """{slug: (binary or None, the build's output)}; each block built by `go build` alone (a block
    naming 50055 with the port of the manager it runs against)."""
    blocks = [b for b in RUN if b.language == "go"]
    directory = tmp_path_factory.mktemp("go-snippets")
    env = go_env()
    rewritten = [dataclass_rewrite(b, workspace) for b in blocks]
    if any("50055" in b.code for b in rewritten):
        port = str(request.getfixturevalue("manager").port)
        rewritten = [Block(b.path, b.line, b.language, b.code.replace("50055", port), b.marker, b.argument)
                     for b in rewritten]
    go_module(directory, pathlib.Path(env["GOWORK"]), rewritten)
    env.update(GOWORK="off", GOFLAGS="-mod=mod", GOPROXY="off")
    built = {}
    for block in blocks:
        binary = directory / "bin" / slug(block)
        result = subprocess.run(["go", "build", "-o", str(binary), "./" + slug(block)], cwd=directory, env=env,
                                capture_output=True, text=True)
        built[slug(block)] = (binary if result.returncode == 0 else None, result.stdout + result.stderr)
    return built


def dataclass_rewrite(block: Block, workspace: Workspace) -> Block:
    return Block(block.path, block.line, block.language, workspace.rewrite(block.code), block.marker, block.argument)


# ---- C#: every block a console project; one build ------------------------------------------------

CSPROJ = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <OutputPath>out/</OutputPath>
    <AppendTargetFrameworkToOutputPath>false</AppendTargetFrameworkToOutputPath>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="{library}" />
  </ItemGroup>
</Project>
"""


@pytest.fixture(scope="module")
def csharp_build(tmp_path_factory, workspace, request):
    """{slug: (the program's dll or None, the build's output)} (a block naming 50055 with the port of
    the manager it runs against)."""
    blocks = [b for b in RUN if b.language == "csharp"]
    manager_port = None
    if any("50055" in b.code for b in blocks):
        manager_port = str(request.getfixturevalue("manager").port)
    directory = tmp_path_factory.mktemp("csharp-snippets")
    library = ROOT / "csharp" / "FpgaScore" / "FpgaScore.csproj"
    projects = []
    for block in blocks:
        project = directory / slug(block)
        project.mkdir()
        (project / f"{slug(block)}.csproj").write_text(CSPROJ.format(library=library))
        code = workspace.rewrite(block.code)
        (project / "Program.cs").write_text(code.replace("50055", manager_port) if manager_port else code)
        projects.append(f'  <Project Path="{slug(block)}/{slug(block)}.csproj" />\n')
    (directory / "snippets.slnx").write_text("<Solution>\n" + "".join(projects) + "</Solution>\n")
    result = subprocess.run(["dotnet", "build", "snippets.slnx", "-nologo", "-clp:ErrorsOnly"], cwd=directory,
                            env=base_env(), capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    built = {}
    for block in blocks:
        dll = directory / slug(block) / "out" / f"{slug(block)}.dll"
        built[slug(block)] = (dll if dll.exists() else None,
                              "\n".join(line for line in output.splitlines() if slug(block) in line) or output)
    return built


# ---- the tests --------------------------------------------------------------------------------------

def test_every_block_is_run_or_marked_with_a_reason():
    problems = []
    for block in BLOCKS:
        if block.language not in ("python", "go", "csharp", "sh"):
            if block.language not in OTHER_LANGUAGES:
                problems.append(f"{block.where}: a ```{block.language} fence: use python, go, csharp, sh, "
                                f"or a data language ({', '.join(sorted(OTHER_LANGUAGES))})")
            continue
        if block.marker == "skip" and not block.argument:
            problems.append(f"{block.where}: `snippet: skip` without a reason")
        elif block.marker == "run-by":
            test = ROOT / block.argument
            if not block.argument or not test.is_file():
                problems.append(f"{block.where}: `snippet: run-by {block.argument}`: no such file")
            elif pathlib.PurePath(block.path).name not in test.read_text():
                problems.append(f"{block.where}: {block.argument} does not name {block.path}")
        elif block.marker == "server" and block.language != "sh":
            problems.append(f"{block.where}: `snippet: server` is for sh blocks")
        elif block.marker not in (None, "skip", "run-by", "server"):
            problems.append(f"{block.where}: unknown marker `snippet: {block.marker}`")
    assert not problems, "\n".join(problems)


def test_the_snippet_test_sees_every_readme():
    paths = {block.path for block in RUN}
    for readme in ("README.md", "python/README.md", "go/README.md", "csharp/FpgaScore/README.md",
                   "conformance/server/README.md"):
        assert readme in paths, f"{readme}: no block of it is run"
    assert {block.language for block in RUN} == {"python", "go", "csharp", "sh"}


def by_language(block: Block):
    """Parallel runs (tests/conftest.py): one group per language, so that the Go and the C# builds
    run on workers of their own and each once."""
    group = pytest.mark.xdist_group(f"docs/test_snippets.py::{block.language}")
    return pytest.param(block, marks=group, id=block.where)


@pytest.mark.parametrize("block", [by_language(block) for block in RUN])
def test_snippet_runs(block: Block, workspace: Workspace, request):
    code, extra = workspace.rewrite(block.code), {}
    if "50055" in code:
        managed = request.getfixturevalue("manager")
        code, extra = code.replace("50055", str(managed.port)), {"FPGASCORE_ADMIN_TOKEN": managed.token}
    if block.language == "python":
        result = subprocess.run([sys.executable, "-"], input=code, cwd=workspace.dir,
                                env=workspace.env(PYTHONPATH=str(workspace.dir / "python" / "src"), **extra),
                                capture_output=True, text=True, timeout=120)
    elif block.language == "sh" and block.marker == "server":
        run_server_block(block, workspace)
        return
    elif block.language == "sh":
        result = subprocess.run(["bash", "-e", "-c", code], cwd=workspace.dir, env=workspace.env(**extra),
                                capture_output=True, text=True, timeout=300)
    elif block.language == "go":
        binary, log = request.getfixturevalue("go_build")[slug(block)]
        assert binary, f"{block.where}: the Go block does not build:\n{block.code}\n--- go build\n{log}"
        result = subprocess.run([str(binary)], cwd=workspace.dir, env=workspace.env(**extra), capture_output=True,
                                text=True, timeout=120)
    else:
        dll, log = request.getfixturevalue("csharp_build")[slug(block)]
        assert dll, f"{block.where}: the C# block does not build:\n{block.code}\n--- dotnet build\n{log}"
        result = subprocess.run(["dotnet", str(dll)], cwd=workspace.dir, env=workspace.env(**extra), capture_output=True,
                                text=True, timeout=120)
    outcome(block, result)


def run_server_block(block: Block, workspace: Workspace) -> None:
    directory = checkout_like(workspace.dir.parent / slug(block))
    port, health = free_port(), free_port()
    code = block.code.replace("50051", str(port)).replace("50052", str(health))
    code += '\nprintf %s "${FPGASCORE_KEY:-}" > .snippet-key\n'  # what the block exported, for the check below
    log = directory / "block.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "-e", "-c", code], cwd=directory, env=base_env(), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() not in (None, 0) or time.monotonic() > deadline:
                pytest.fail(f"{block.where}: the server block did not open port 50051 "
                            f"(exit {process.poll()}):\n{block.code}\n--- output\n{log.read_text()}")
            time.sleep(0.1)
        score_on_server_block(block, directory, port)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        process.wait(30)
        shutil.rmtree(directory, ignore_errors=True)


def score_on_server_block(block: Block, directory: pathlib.Path, port: int) -> None:
    import fpgascore

    ca = directory / "tls" / "ca.pem"
    key = ""
    for name in (".snippet-key", "key"):
        if (directory / name).is_file() and (directory / name).read_text().strip():
            key = (directory / name).read_text().strip()
            break
    options = {"use_ssl": True, "root_certificates": str(ca)} if ca.is_file() else {}
    try:
        with fpgascore.PredictionClient("localhost", port, access_token=key or None, **options) as client:
            scores = client.score_image(str(ROOT / "conformance" / "testdata" / "images" / "gradient.jpg"))
    except fpgascore.ScoringError as error:
        pytest.fail(f"{block.where}: the server the block started does not score an image "
                    f"({'TLS' if options else 'plaintext'}, {'a' if key else 'no'} key): {error}")
    assert fpgascore.top_k(scores, 1)[0].class_id == 139, block.where
