"""scripts/csharp_style.py, the lint suite's check of the two C# style rules the compiler never
reports: it finds what Roslyn's `dotnet format style` finds on a file of every case (the peer),
and it fails, names the place and leaves build output alone."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "csharp_style.py"
SAMPLE = ROOT / "tests" / "fixtures" / "csharp_style" / "Sample.cs"
PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
</Project>
"""


def check(*paths: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)], capture_output=True, text=True,
                          timeout=60)


def found(result: subprocess.CompletedProcess) -> set:
    """{(line, column, rule)} of the check's output lines PATH:LINE:COLUMN: RULE ..."""
    rows = set()
    for line in result.stdout.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[1].isdigit():
            rows.add((int(parts[1]), int(parts[2]), parts[3].split()[0]))
    return rows


@pytest.mark.skipif(shutil.which("dotnet") is None, reason="needs the .NET SDK")
def test_it_finds_what_dotnet_format_style_finds(tmp_path):
    (tmp_path / "sample.csproj").write_text(PROJECT)
    shutil.copy(ROOT / ".editorconfig", tmp_path / ".editorconfig")
    shutil.copy(SAMPLE, tmp_path / "Sample.cs")
    report = tmp_path / "report.json"
    roslyn = subprocess.run(["dotnet", "format", "style", "sample.csproj", "--verify-no-changes", "--diagnostics",
                             "IDE0003", "IDE0049", "--report", str(report), "-v", "q"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert report.exists(), roslyn.stdout + roslyn.stderr
    expected = {(change["LineNumber"], change["CharNumber"], change["DiagnosticId"])
                for document in json.loads(report.read_text()) for change in document["FileChanges"]}
    assert {rule for _, _, rule in expected} == {"IDE0003", "IDE0049"}, expected  # the sample has both
    result = check(tmp_path / "Sample.cs")
    assert result.returncode == 1, result.stdout + result.stderr
    assert found(result) == expected, (sorted(found(result) - expected), sorted(expected - found(result)))


def test_a_clean_file_passes_and_each_finding_names_its_place(tmp_path):
    clean = tmp_path / "Clean.cs"
    clean.write_text('namespace N;\n\npublic class C\n{\n    private int n;\n'
                     '    public string Text => $"{n} this.n Int32"; // String.Empty\n}\n')
    result = check(clean)
    assert result.returncode == 0 and found(result) == set(), result.stdout
    dirty = tmp_path / "Dirty.cs"
    dirty.write_text(clean.read_text().replace("private int n;", "private Int32 n;\n    int M() => this.n;"))
    result = check(dirty)
    assert result.returncode == 1
    assert found(result) == {(5, 13, "IDE0049"), (6, 16, "IDE0003")}, result.stdout
    assert f"{dirty}:5:13: IDE0049 use 'int', not 'Int32'" in result.stdout


def test_build_output_is_left_out_and_a_wrong_path_is_an_error(tmp_path):
    for folder in ("obj", "bin"):
        (tmp_path / "Project" / folder).mkdir(parents=True)
        (tmp_path / "Project" / folder / "Generated.cs").write_text("class G { System.String s; }\n")
    (tmp_path / "Project" / "Real.cs").write_text("class R { string s = \"\"; }\n")
    result = check(tmp_path)
    assert result.returncode == 0 and "1 files, no finding" in result.stdout, result.stdout
    missing = check(tmp_path / "nowhere")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
