#!/usr/bin/env python3
"""Writes the Go module in go/ as a release publishes it: a tagged module version in the layout
of a file:// module proxy (GOPROXY=file://OUT), so that another module can require it offline.

    go_module_proxy.py --module-dir go --version v0.1.0 --out OUT

OUT/<module path>/@v/ gets list, vX.Y.Z.info, vX.Y.Z.mod and vX.Y.Z.zip. The zip follows
the module zip format (golang.org/x/mod/zip) as the Go proxy makes it from the tag `go/vX.Y.Z`:
every file of the module folder that git tracks or would track (`git ls-files --cached
--others --exclude-standard`: not ignored build output), each under `<module>@<version>/`;
no folder that holds its own go.mod (another module), no vendor folder, no symlink; the
repository's LICENSE when the module folder has none (as the proxy adds it for a module in a
subfolder). Prints the module version and the zip's go.sum hash (h1:...).
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip's timestamps: the same files make the same zip


def module_path(go_mod: pathlib.Path) -> str:
    match = re.search(r"^module\s+(\S+)", go_mod.read_text(), re.M)
    if not match:
        raise SystemExit(f"{go_mod}: no module line")
    return match.group(1).strip('"')


def escape(path: str) -> str:
    """The module proxy's case encoding: an upper-case letter is '!' and its lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def hash1(files: dict) -> str:
    """Go's dirhash.Hash1 over {name: bytes} (the h1: hashes of go.sum)."""
    summary = "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def module_files(module_dir: pathlib.Path, repo: pathlib.Path) -> dict:
    """{path relative to the module folder: bytes} as the module zip holds them."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
                            cwd=module_dir, check=True, capture_output=True).stdout.decode().split("\0")
    files = {}
    for name in sorted(n for n in listed if n):
        path = module_dir / name
        parts = pathlib.PurePosixPath(name).parts
        if not path.is_file() or path.is_symlink():  # deleted in the tree, or a symlink: not in a zip
            continue
        if "vendor" in parts[:-1]:
            continue
        # A folder below the module root with its own go.mod is another module.
        if any((module_dir.joinpath(*parts[:n]) / "go.mod").is_file() for n in range(1, len(parts))):
            continue
        files[name] = path.read_bytes()
    if "go.mod" not in files:
        raise SystemExit(f"{module_dir}: no go.mod among the module's files")
    if "LICENSE" not in files and (repo / "LICENSE").is_file() and module_dir.resolve() != repo.resolve():
        files["LICENSE"] = (repo / "LICENSE").read_bytes()
    folded = {}
    for name in files:
        if name.lower() in folded:
            raise SystemExit(f"{name} and {folded[name.lower()]} differ only in case: not a valid module zip")
        folded[name.lower()] = name
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module-dir", required=True, type=pathlib.Path)
    ap.add_argument("--version", required=True, help="the module version, vX.Y.Z")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="the proxy's root (GOPROXY=file://OUT)")
    args = ap.parse_args()
    if not re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+", args.version):
        raise SystemExit(f"--version {args.version!r} is not vX.Y.Z")
    module_dir = args.module_dir.resolve()
    repo = pathlib.Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=module_dir, check=True,
                                       capture_output=True, text=True).stdout.strip())
    module = module_path(module_dir / "go.mod")
    major = int(args.version[1:].split(".")[0])
    if major >= 2 and not module.endswith(f"/v{major}"):
        raise SystemExit(f"version {args.version} needs the module path to end in /v{major}, not {module}")
    files = module_files(module_dir, repo)
    prefix = f"{module}@{args.version}/"
    folder = args.out / escape(module) / "@v"
    folder.mkdir(parents=True, exist_ok=True)
    zip_path = folder / f"{args.version}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(prefix + name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    (folder / f"{args.version}.mod").write_bytes(files["go.mod"])
    try:  # the release's time: the commit's, else now
        when = subprocess.run(["git", "log", "-1", "--format=%cI"], cwd=module_dir, check=True,
                              capture_output=True, text=True).stdout.strip()
        stamp = datetime.datetime.fromisoformat(when).astimezone(datetime.timezone.utc)
    except (subprocess.CalledProcessError, ValueError):
        stamp = datetime.datetime.now(datetime.timezone.utc)
    (folder / f"{args.version}.info").write_text(
        json.dumps({"Version": args.version, "Time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")
    (folder / "list").write_text(args.version + "\n")
    zip_hash = hash1({prefix + name: data for name, data in files.items()})
    mod_hash = hash1({"go.mod": files["go.mod"]})
    print(f"{module} {args.version} {zip_hash}")
    print(f"{module} {args.version}/go.mod {mod_hash}")
    print(f"{len(files)} files in {zip_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
