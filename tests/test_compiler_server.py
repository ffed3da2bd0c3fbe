"""scripts/test-all.sh shares one C# compiler server among a run's compiles and stops it at the end,
but a run inside another run (as this suite's tests start one) leaves it to the outer run, whose
compiles are still using it."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from deployment.managers import pids_with_command_line_holding

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
  </PropertyGroup>
</Project>
"""

pytestmark = pytest.mark.skipif(shutil.which("dotnet") is None, reason="needs the .NET SDK")


def compiler_servers() -> set:
    """PIDs of the running C# compiler servers (VBCSCompiler)."""
    return set(pids_with_command_line_holding("VBCSCompiler"))


@pytest.fixture
def own_server_stopped():
    """Outside a test-all run (which stops it), a server this test started is stopped after it."""
    before = compiler_servers()
    yield
    if not before and "FPGASCORE_COMPILER_SERVER_RUN" not in os.environ:
        subprocess.run(["dotnet", "build-server", "shutdown", "--vbcscompiler"], capture_output=True, timeout=120)


def test_a_run_inside_another_run_leaves_the_compiler_server_running(tmp_path, own_server_stopped):
    project = tmp_path / "hello"
    project.mkdir()
    (project / "hello.csproj").write_text(PROJECT)
    (project / "Program.cs").write_text('System.Console.WriteLine("hello");\n')
    build = subprocess.run(["dotnet", "build", "-nologo", "-v", "q"], cwd=project, capture_output=True, text=True,
                           env={**os.environ, "UseSharedCompilation": "true"}, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    servers = compiler_servers()
    assert servers, "a build with UseSharedCompilation=true left no compiler server"
    # The outer run is this process, as test-all.sh marks its children (inherited by a nested run).
    env = {**os.environ, "FPGASCORE_SKIP_SETUP": "1", "FPGASCORE_COMPILER_SERVER_RUN": str(os.getpid()),
           "FPGASCORE_TEST_ALL_SUMMARY": str(tmp_path / "summary.json")}
    nested = subprocess.run([str(ROOT / "scripts" / "test-all.sh"), "generated"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert "=== suite generated ===" in nested.stderr, nested.stdout[-2000:] + nested.stderr[-2000:]
    assert servers <= compiler_servers(), "the nested run stopped the outer run's compiler server"
