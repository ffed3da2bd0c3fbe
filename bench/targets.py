"""make bench's one table of targets (issue #21): every target with its goal, its measured value
and met / not met / n/a, from one bench run.

Each bench writes its own items into its JSON file (out/bench/<run>/*.json), as a top-level
"targets" list, each item

    {"target": "4. Go client − stub CPU per call, concurrency 1", "goal": "≤ 0.02 ms",
     "measured": "+0.0040 ms (median of 12 rows)", "met": true}

("met": true, false, or null where the run could not tell). A file without "targets" adds
nothing. Target 5 (CI time) comes from the summary scripts/test-all.sh writes at its end
(out/test-all/summary.json: each suite's result and seconds, the total).

    /usr/bin/python3 bench/targets.py out/bench/<run> [--test-all out/test-all/summary.json] [--markdown F]

Every file is bounded (MAX_FILE_BYTES, MAX_ITEMS, MAX_TEXT): a file over a bound, not JSON, or
with a malformed "targets" is named on stderr with what is wrong, its items are left out, the
rest of the table is printed, and the exit status is 1. Not met is not an error (exit 0).
"""
from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
from typing import List, Optional, Tuple

MAX_FILE_BYTES = 64 * 1024 * 1024  # a bench's JSON is a few MB at most
MAX_ITEMS = 200
MAX_TEXT = 1000  # characters of one target, goal or measured value
CI_GOAL_S = 300
ALL_SUITES = ("generated", "lint", "server", "python", "go", "csharp", "conformance", "soak")
DEFAULT_TEST_ALL = pathlib.Path(__file__).resolve().parents[1] / "out" / "test-all" / "summary.json"


class TargetsError(ValueError):
    """A file cannot give its targets; the message names the file and what is wrong."""


def read_json(path: pathlib.Path) -> object:
    """The JSON value of a file, refusing one over MAX_FILE_BYTES before reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TargetsError(f"{path}: {size} bytes, over the {MAX_FILE_BYTES}-byte bound; not read")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat
    except OSError as exc:
        raise TargetsError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TargetsError(f"{path}: over the {MAX_FILE_BYTES}-byte bound; not read")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise TargetsError(f"{path}: not JSON ({exc})") from None


def check_item(path: pathlib.Path, index: int, item: object) -> dict:
    """One item, checked: the four keys, three texts within MAX_TEXT, met true/false/null."""
    where = f"{path}: 'targets' item {index}"
    if not isinstance(item, dict):
        raise TargetsError(f"{where} is {type(item).__name__}, not an object")
    for key in ("target", "goal", "measured"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TargetsError(f"{where}: {key!r} must be a non-empty string, not {value!r:.80}")
        if len(value) > MAX_TEXT:
            raise TargetsError(f"{where}: {key!r} is {len(value)} characters, over the bound of {MAX_TEXT}")
    if "met" not in item or not (item["met"] is None or isinstance(item["met"], bool)):
        raise TargetsError(f"{where}: 'met' must be true, false or null, not {item.get('met', 'missing')!r:.80}")
    return {key: item[key] for key in ("target", "goal", "measured", "met")}


def file_targets(path: pathlib.Path) -> List[dict]:
    """The checked items of one bench file (none when it has no "targets")."""
    document = read_json(path)
    if not isinstance(document, dict) or "targets" not in document:
        return []
    items = document["targets"]
    if not isinstance(items, list):
        raise TargetsError(f"{path}: 'targets' is {type(items).__name__}, not a list")
    if len(items) > MAX_ITEMS:
        raise TargetsError(f"{path}: {len(items)} 'targets' items, over the bound of {MAX_ITEMS}")
    return [check_item(path, index, item) for index, item in enumerate(items)]


def ci_target(path: pathlib.Path) -> dict:
    """Target 5 from scripts/test-all.sh's summary: the total against CI_GOAL_S when the run had
    every suite and all passed; otherwise what it had, and no verdict."""
    item = {"target": "5. CI: scripts/test-all.sh, every suite", "goal": f"≤ {CI_GOAL_S} s",
            "measured": f"no summary ({path} is written by scripts/test-all.sh)", "met": None}
    if not path.exists():
        return item
    summary = read_json(path)
    suites = summary.get("suites") if isinstance(summary, dict) else None
    total = summary.get("total_seconds") if isinstance(summary, dict) else None
    if not isinstance(suites, list) or not isinstance(total, (int, float)) or isinstance(total, bool) or \
            not all(isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("seconds"), int)
                    and isinstance(s.get("result"), str) for s in suites) or len(suites) > MAX_ITEMS:
        raise TargetsError(f"{path}: not a test-all summary (suites: a list of name, result and seconds; "
                           "total_seconds: a number)")
    split = ", ".join(f"{s['name']} {s['seconds']} s" for s in suites)
    when = summary.get("finished", "")
    measured = f"{total:.0f} s ({split[:MAX_TEXT // 2]}){f'; {when}' if isinstance(when, str) and when else ''}"
    names = [s["name"] for s in suites]
    failed = [s["name"] for s in suites if s["result"] != "passed"]
    if set(ALL_SUITES) - set(names):
        measured += f"; only {', '.join(names)} ran"
        item.update(measured=measured)
    elif failed:
        item.update(measured=measured + f"; failed: {', '.join(failed)}")
    else:
        item.update(measured=measured, met=total <= CI_GOAL_S)
    return item


def collect(run_dir: pathlib.Path, test_all: Optional[pathlib.Path]) -> Tuple[List[dict], List[str]]:
    """Every item of the run's JSON files and target 5, by the issue's target number (then in file
    name order); the errors, one a file."""
    items, errors = [], []
    paths = sorted(run_dir.glob("*.json")) if run_dir.is_dir() else []
    if not run_dir.is_dir():
        errors.append(f"{run_dir}: not a directory of bench results")
    for path in paths:
        try:
            items += file_targets(path)
        except TargetsError as exc:
            errors.append(str(exc))
    if test_all is not None:
        try:
            items.append(ci_target(test_all))
        except TargetsError as exc:
            errors.append(str(exc))
    return sorted(items, key=_number), errors


def _number(item: dict) -> int:
    """The issue's number of a target ("3. CPU per image" -> 3); unnumbered items go last, in order."""
    head = str(item["target"]).split(".", 1)[0]
    return int(head) if head.isdigit() else 99


def verdict(met: Optional[bool]) -> str:
    return "n/a" if met is None else ("met" if met else "not met")


def table(items: List[dict]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    lines += [f"| {cell(t['target'])} | {cell(t['goal'])} | {cell(t['measured'])} | {verdict(t['met'])} |"
              for t in items]
    met = sum(t["met"] is True for t in items)
    missed = sum(t["met"] is False for t in items)
    lines.append(f"\n{met} met, {missed} not met, {len(items) - met - missed} n/a "
                 f"({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=pathlib.Path, help="one bench run's directory, out/bench/<run>")
    parser.add_argument("--test-all", type=pathlib.Path, default=DEFAULT_TEST_ALL,
                        help="scripts/test-all.sh's summary, for target 5 (default: %(default)s)")
    parser.add_argument("--no-test-all", action="store_true", help="leave target 5 out")
    parser.add_argument("--markdown", type=pathlib.Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    items, errors = collect(args.run_dir, None if args.no_test_all else args.test_all)
    text = table(items)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    for error in errors:
        print(f"bench/targets.py: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
