#!/usr/bin/env python3
"""Writes a Go workspace (go.work) that builds Go modules offline from Debian's Go sources.

    go_workspace.py --gocode DIR --work DIR [--trees DIR] MODULE_DIR...

The workspace `use`s each MODULE_DIR and `replace`s every module of their requirement
closure by a directory:
  * Debian's copy under --gocode when it is a module (has a go.mod);
  * a copy of it with a newer `go` line for the modules in GO_LINE_AT_LEAST;
  * a copy with a one-line go.mod when Debian has the folder but not as a module of its own
    (a module that upstream split out of a larger one, e.g. genproto/googleapis/rpc inside
    trixie's genproto monolith);
  * a stub directory holding only a go.mod when Debian has nothing: a module in the graph
    that no built package imports (a build that does import it fails, naming the package).

The copies and stubs go into --work, or into --trees (scripts/go-env.sh: the machine cache's
folder keyed by everything they are made from, so that every clone compiles grpc from one path
and Go's build cache, which keys a package by its folder too, hits across clones). A --trees
folder is written whole under another name and renamed into place; one already there is used as
it is (the same inputs make the same trees).

The closure is read from the go.mod files themselves (`go mod edit -json`), never from the
wording of go's errors. Once written, `go mod graph` must succeed in the workspace and name
no module without a replacement. `go` on PATH is the toolchain that will build.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

# Debian regenerated grpc 1.64's own .pb.go files with protoc-gen-go 1.36 (unsafe.StringData,
# Go 1.20+) but left its go.mod at `go 1.19`: the compiler refuses those files until the
# module's language version allows them.
GO_LINE_AT_LEAST = {"google.golang.org/grpc": "1.21"}


def go_mod(path: pathlib.Path) -> dict:
    out = subprocess.run(["go", "mod", "edit", "-json", str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def version_key(v: str) -> tuple:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def enclosing_go_line(gocode: pathlib.Path, module: str) -> str | None:
    """The go line of the Debian module whose folder holds MODULE's folder, if any."""
    parts = module.split("/")
    for n in range(len(parts) - 1, 0, -1):
        gomod = gocode.joinpath(*parts[:n], "go.mod")
        if gomod.is_file():
            return go_mod(gomod).get("Go")
    return None


def copy_tree(src: pathlib.Path, dst: pathlib.Path) -> None:
    # Folders with their own go.mod are other modules: leave them out, as go does.
    def ignore(folder, names):
        return [n for n in names if (pathlib.Path(folder) / n / "go.mod").is_file()]
    shutil.copytree(src, dst, symlinks=True, ignore=ignore)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gocode", required=True, type=pathlib.Path, help="Debian's Go sources (…/usr/share/gocode/src)")
    ap.add_argument("--work", required=True, type=pathlib.Path, help="folder of the go.work to write")
    ap.add_argument("--trees", type=pathlib.Path, help="folder for the copies and stubs (default: --work)")
    ap.add_argument("modules", nargs="+", type=pathlib.Path, help="module folders to use")
    args = ap.parse_args()
    gocode, work = args.gocode.resolve(), args.work.resolve()
    uses = [m.resolve() for m in args.modules]
    final = (args.trees or args.work).resolve()
    # Shared trees are written beside their final place and renamed there at the end.
    trees = final.with_name(f"{final.name}.new-{os.getpid()}") if args.trees else final

    for sub in ("copies", "stubs"):
        shutil.rmtree(trees / sub, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    trees.mkdir(parents=True, exist_ok=True)

    used = {}
    queue = []
    go_line = "1.0"
    for m in uses:
        info = go_mod(m / "go.mod")
        used[info["Module"]["Path"]] = m
        go_line = max(go_line, info.get("Go") or "1.16", key=version_key)
        queue += [r["Path"] for r in info.get("Require") or []]

    replaces: dict[str, tuple[pathlib.Path, str]] = {}  # module -> (dir, kind)
    while queue:
        mod = queue.pop(0)
        if mod in replaces or mod in used:
            continue
        src = gocode / mod
        if (src / "go.mod").is_file():
            want = GO_LINE_AT_LEAST.get(mod)
            have = go_mod(src / "go.mod").get("Go") or "1.16"
            if want and version_key(have) < version_key(want):
                dst = trees / "copies" / mod
                copy_tree(src, dst)
                (dst / "go.mod").chmod(0o644)
                subprocess.run(["go", "mod", "edit", f"-go={want}", str(dst / "go.mod")], check=True)
                replaces[mod] = (dst, f"Debian's, go line {have} -> {want}")
            else:
                replaces[mod] = (src, "Debian's")
            queue += [r["Path"] for r in go_mod(replaces[mod][0] / "go.mod").get("Require") or []]
        elif src.is_dir():
            dst = trees / "copies" / mod
            copy_tree(src, dst)
            line = enclosing_go_line(gocode, mod)
            (dst / "go.mod").write_text(f"module {mod}\n" + (f"\ngo {line}\n" if line else ""))
            replaces[mod] = (dst, "Debian's folder as a module")
        else:
            dst = trees / "stubs" / mod
            dst.mkdir(parents=True)
            (dst / "go.mod").write_text(f"module {mod}\n")
            replaces[mod] = (dst, "stub")

    # A module replaced by Debian's folder must not also hold a module split out of it.
    for mod, (path, kind) in list(replaces.items()):
        if kind != "Debian's":
            continue
        inner = [m for m, (_, k) in replaces.items() if m.startswith(mod + "/") and k == "Debian's folder as a module"]
        if inner:
            dst = trees / "copies" / mod
            skip = {gocode / m for m in inner}
            shutil.copytree(path, dst, symlinks=True,
                            ignore=lambda folder, names: [n for n in names if pathlib.Path(folder) / n in skip])
            replaces[mod] = (dst, f"Debian's without {', '.join(inner)}")

    if trees != final:
        try:
            os.rename(trees, final)
        except OSError:  # another run put the same trees there first
            if not final.is_dir():
                raise
            shutil.rmtree(trees)
        replaces = {mod: (final / path.relative_to(trees) if path.is_relative_to(trees) else path, kind)
                    for mod, (path, kind) in replaces.items()}

    gowork = work / "go.work"
    lines = [f"go {go_line}", ""] + [f"use {m}" for m in uses] + [""]
    lines += [f"replace {mod} => {replaces[mod][0]}" for mod in sorted(replaces)]
    gowork.write_text("\n".join(lines) + "\n")
    (work / "replacements.txt").write_text(
        "".join(f"{mod}\t{kind}\t{path}\n" for mod, (path, kind) in sorted(replaces.items())))

    env = {**os.environ, "GOWORK": str(gowork), "GOFLAGS": "", "GOPROXY": "off", "GOTOOLCHAIN": "local"}
    graph = subprocess.run(["go", "mod", "graph"], cwd=uses[0], env=env, capture_output=True, text=True)
    if graph.returncode != 0:
        sys.stderr.write(f"go_workspace: `go mod graph` fails in {gowork}:\n{graph.stderr}")
        return 1
    named = {node.split("@")[0] for node in graph.stdout.split()}  # lines of "a@v b@v"
    unknown = sorted(named - set(replaces) - set(used) - {"go", "toolchain"})
    if unknown:
        sys.stderr.write(f"go_workspace: modules in the graph without a replacement: {' '.join(unknown)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
