"""Packages a registry would accept: one VERSION, one project URL, the license, package READMEs
whose links still work on PyPI / nuget.org (absolute ones only), and the Python wheel as built.

The NuGet packages are checked where they are packed (scripts/test-csharp.sh: LICENSE and README
inside, the repository URL and the version in the nuspec, a .snupkg beside each); the Go
module's version file is checked by `scripts/generate.sh --check` and by test_versions below.
"""
from __future__ import annotations

import email
import os
import pathlib
import re
import subprocess
import zipfile
import xml.etree.ElementTree as ET

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTHON = os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")
VERSION = (ROOT / "VERSION").read_text().strip()

# The READMEs a registry shows: PyPI (the wheel's description), nuget.org (each package's
# README.md), pkg.go.dev (the module's README).
PACKAGE_READMES = ["python/README.md", "csharp/FpgaScore/README.md", "csharp/FpgaScore.Cli/README.md", "go/README.md"]


def project_url() -> str:
    """The one project URL: the repository that go/go.mod's module path names."""
    module = re.search(r"^module\s+(\S+)", (ROOT / "go" / "go.mod").read_text(), re.M).group(1)
    host, owner, name = module.split("/")[:3]
    return f"https://{host}/{owner}/{name}"


URL = project_url()


def relative_links(markdown: str) -> list:
    """Link and image targets that are neither absolute URLs nor in-page anchors."""
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", markdown)                        # [text](target)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", markdown, re.M)     # [ref]: target
    targets += re.findall(r"""(?:href|src)\s*=\s*["']([^"']+)""", markdown)       # HTML
    return [t for t in targets if not re.match(r"(?i)(https?://|mailto:|#)", t)]


def test_relative_link_finder():
    assert relative_links("[a](../x.md) [b](https://e.org/y) [c](#here) ![i](img.png)\n[r]: docs/z.md\n"
                          '<a href="q.md">q</a> <img src="https://e.org/i.png">') == ["../x.md", "img.png", "docs/z.md", "q.md"]


def test_version_file_is_x_y_z():
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", VERSION), VERSION


def test_versions_come_from_the_version_file():
    assert (ROOT / "python/src/fpgascore/_version.py").read_text().count(f'__version__ = "{VERSION}"') == 1
    assert f'const Version = "{VERSION}"' in (ROOT / "go/fpgascore/version.go").read_text()
    pyproject = (ROOT / "python/pyproject.toml").read_text()
    project_table = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project_table and not re.search(r"^version\s*=", project_table, re.M)
    assert 'version = { attr = "fpgascore._version.__version__" }' in pyproject
    props = (ROOT / "csharp/Directory.Build.props").read_text()
    assert "<Version>$([System.IO.File]::ReadAllText('$(FpgaScoreRepositoryRoot)/VERSION').Trim())</Version>" in props
    for csproj in (ROOT / "csharp").glob("*/*.csproj"):  # no project overrides the version
        assert "<Version>" not in csproj.read_text() and "<PackageVersion>" not in csproj.read_text(), csproj


def test_one_project_url():
    assert URL == "https://github.com/fpgascore/fpgascore"
    pyproject = (ROOT / "python/pyproject.toml").read_text()
    urls = dict(re.findall(r'^(\w+)\s*=\s*"(https?://[^"]+)"', pyproject.split("[project.urls]", 1)[1].split("\n[", 1)[0], re.M))
    assert urls.get("Homepage") == URL and urls.get("Repository") == URL, urls
    assert all(u == URL or u.startswith(URL + "/") for u in urls.values()), urls
    props = ET.parse(ROOT / "csharp/Directory.Build.props").getroot()
    values = {el.tag: (el.text or "") for group in props.findall("PropertyGroup") for el in group}
    assert values["FpgaScoreProjectUrl"] == URL
    assert values["PackageProjectUrl"] == values["RepositoryUrl"] == "$(FpgaScoreProjectUrl)"
    assert values["RepositoryType"] == "git"
    for csproj in (ROOT / "csharp").glob("*/*.csproj"):
        text = csproj.read_text()
        assert "RepositoryUrl" not in text and "PackageProjectUrl" not in text, csproj


@pytest.mark.parametrize("readme", PACKAGE_READMES)
def test_package_readme(readme):
    text = (ROOT / readme).read_text()
    assert relative_links(text) == [], f"{readme}: relative links break on the registry; make them absolute ({URL}/blob/main/...)"
    assert URL in text, f"{readme} does not name the project URL"
    assert "Apache License 2.0" in " ".join(text.split()), f"{readme} does not name the license"
    for link in re.findall(r"https://github\.com/[^\s)>\]`]+", text):
        link = link.rstrip(".,")  # sentence punctuation, not part of an autolink
        assert link == URL or link.startswith(URL + "/"), f"{readme}: {link} is not under {URL}"


def test_license_and_changelog():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert (ROOT / "python/LICENSE").read_text() == license_text  # the wheel's copy (scripts/generate.sh)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and "go/vX.Y.Z" in changelog
    assert "go/vX.Y.Z" in (ROOT / "go/README.md").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel as a release builds it: scripts/build-artifacts.sh OUT python, which runs `pip wheel
    --no-deps --no-build-isolation` offline on a copy of python/ (so the checkout gets no build/ or
    egg-info), once per set of sources (its cache)."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([str(ROOT / "scripts" / "build-artifacts.sh"), str(out), "python"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list((out / "python").glob("fpgascore-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel(wheel):
    assert wheel.name == f"fpgascore-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist_info = f"fpgascore-{VERSION}.dist-info"
        assert f"{dist_info}/LICENSE" in names, sorted(n for n in names if "dist-info" in n)
        assert z.read(f"{dist_info}/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert "fpgascore/imagenet_classes.txt" in names and "fpgascore/_version.py" in names
        metadata = email.message_from_bytes(z.read(f"{dist_info}/METADATA"))
    assert metadata["Version"] == VERSION
    assert metadata["License"] == "Apache-2.0"
    assert "License :: OSI Approved :: Apache Software License" in metadata.get_all("Classifier")
    project_urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert project_urls["Homepage"] == URL and project_urls["Repository"] == URL, project_urls
    description = metadata.get_payload()
    assert description.startswith("# fpgascore"), description[:80]
    assert relative_links(description) == [], "the README the wheel carries (PyPI's page) has relative links"


def test_installed_version_is_the_version_file(wheel, tmp_path):
    """`fpgascore --version` from the unpacked wheel alone."""
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    result = subprocess.run([PYTHON, "-m", "fpgascore", "--version"], env=dict(os.environ, PYTHONPATH=str(tmp_path / "site")),
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"fpgascore {VERSION}\n"), result.stderr
