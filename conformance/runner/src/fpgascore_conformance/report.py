"""Results of a run: a progress line per case while it runs, one summary at the end, and the
reports: JUnit XML (a testsuite per driver), a Markdown matrix (case x driver) and JSON."""
from __future__ import annotations

import dataclasses
import json
import pathlib
import threading
import time
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Sequence, Tuple

from .cases import Case

SYMBOLS = {"pass": "✅", "fail": "❌", "xfail": "⚠️ known", "xpass": "❗ fixed?", "skip": "⏭️ skipped"}
# Which status a case shows when its repetitions differ: the worst.
_SEVERITY = {"skip": 0, "pass": 0, "xfail": 1, "xpass": 2, "fail": 3}
MARKS = {"pass": "ok", "fail": "FAIL", "xfail": "known-failing", "xpass": "FIXED (remove from known_failing)",
         "skip": "skipped"}


@dataclasses.dataclass
class CaseResult:
    language: str
    case_id: str
    template: str
    # pass | fail | xfail (listed as known failing, failed) | xpass | skip (not run: problems say why)
    status: str
    problems: List[str]
    elapsed_ms: float
    repetition: int = 0       # 0-based, with --repeat
    # Of elapsed_ms, the time spent waiting for the driver's answers (the rest is the runner's).
    driver_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "xfail", "skip")


def write_junit(path: pathlib.Path, results: Sequence[CaseResult]) -> None:
    suites = ET.Element("testsuites", name="fpgascore-conformance")
    for language in sorted({r.language for r in results}):
        mine = [r for r in results if r.language == language]
        suite = ET.SubElement(suites, "testsuite", name=f"conformance.{language}", tests=str(len(mine)),
                              failures=str(sum(not r.ok for r in mine)),
                              skipped=str(sum(r.status in ("xfail", "skip") for r in mine)),
                              time=f"{sum(r.elapsed_ms for r in mine) / 1000:.3f}")
        repeated = any(r.repetition for r in mine)
        for result in mine:
            name = f"{result.case_id} (run {result.repetition + 1})" if repeated else result.case_id
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{language}", name=name,
                                 time=f"{result.elapsed_ms / 1000:.3f}")
            if result.status == "fail":
                ET.SubElement(case, "failure", message=result.problems[0][:500]).text = "\n".join(result.problems)
            elif result.status == "xpass":
                ET.SubElement(case, "failure", message="listed as known failing but passed")
            elif result.status == "xfail":
                ET.SubElement(case, "skipped", message="known failing: " + "; ".join(result.problems)[:500])
            elif result.status == "skip":
                ET.SubElement(case, "skipped", message="skipped (" + "; ".join(result.problems)[:500] + ")")
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _by_case(results: Sequence[CaseResult]) -> Dict[Tuple[str, str], List[CaseResult]]:
    grouped: Dict[Tuple[str, str], List[CaseResult]] = {}
    for result in results:
        grouped.setdefault((result.case_id, result.language), []).append(result)
    return grouped


def worst(runs: Sequence[CaseResult]) -> str:
    return max((r.status for r in runs), key=_SEVERITY.__getitem__)


def matrix(cases: Sequence[Case], languages: Sequence[str], results: Sequence[CaseResult]) -> str:
    """One row per case, one column per driver; with repetitions, the worst status and how
    many of the runs were ok."""
    grouped = _by_case(results)
    lines = ["| case | " + " | ".join(languages) + " |", "|---|" + "---|" * len(languages)]
    case_ids = [case.id for case in cases]
    case_ids += sorted({r.case_id for r in results} - set(case_ids))  # run-level checks
    for case_id in case_ids:
        cells = []
        for lang in languages:
            runs = grouped.get((case_id, lang))
            if not runs:
                cells.append("—")
                continue
            cell = SYMBOLS[worst(runs)]
            if len(runs) > 1:
                cell += f" {sum(r.ok for r in runs)}/{len(runs)}"
            cells.append(cell)
        lines.append(f"| `{case_id}` | " + " | ".join(cells) + " |")
    totals = []
    for lang in languages:
        mine = [r for r in results if r.language == lang]
        skipped = sum(r.status == "skip" for r in mine)
        totals.append(f"{sum(r.status == 'pass' for r in mine)}/{len(mine) - skipped}"
                      + (f" ({skipped} skipped)" if skipped else ""))
    lines.append("| **passed** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def summary(languages: Sequence[str], results: Sequence[CaseResult], wall_s: float) -> str:
    """What a maintainer reads at the end of a run (the matrix itself goes to matrix.md):
    the failures, the flaky cases when repeated, and per driver its totals, its time and the
    runner's own overhead per case."""
    lines = []
    failing = [r for r in results if not r.ok]
    if failing:
        lines.append("failures:")
        for r in failing:
            run = f" (run {r.repetition + 1})" if r.repetition else ""
            lines.append(f"  {r.language} / {r.case_id}{run}: "
                         + "; ".join(r.problems or ["listed as known failing but passed"])[:400])
    repeats = {}
    for (case_id, language), runs in _by_case(results).items():
        if len(runs) > 1 and len({r.ok for r in runs}) > 1:
            repeats[(case_id, language)] = runs
    if repeats:
        lines.append("flaky (ok runs / runs):")
        for (case_id, language), runs in sorted(repeats.items()):
            lines.append(f"  {language} / {case_id}: {sum(r.ok for r in runs)}/{len(runs)}")
    for lang in languages:
        mine = [r for r in results if r.language == lang]
        timed = [r for r in mine if r.elapsed_ms]
        overhead = (sum(r.elapsed_ms - r.driver_ms for r in timed) / len(timed)) if timed else 0.0
        counts = {status: sum(r.status == status for r in mine)
                  for status in ("pass", "fail", "xfail", "xpass", "skip")}
        lines.append(f"{lang}: {counts['pass']} passed, {counts['fail'] + counts['xpass']} failed"
                     + (f", {counts['xfail']} known failing" if counts["xfail"] else "")
                     + (f", {counts['skip']} skipped" if counts["skip"] else "")
                     + f"; runner overhead {overhead:.0f} ms per case")
    lines.append(f"matrix: {len(results)} results in {wall_s:.1f} s (the cases alone, servers up and drivers built)")
    return "\n".join(lines)


class Progress:
    """Prints one line per finished case: ``[  n/total  elapsed] driver case status time``."""

    def __init__(self, total: int, write: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._write = write
        self._clock = clock
        self._started = clock()
        self._done = 0
        self._lock = threading.Lock()

    def finished(self, result: CaseResult) -> None:
        with self._lock:
            self._done += 1
            elapsed = self._clock() - self._started
            width = len(str(self.total))
            run = f" run {result.repetition + 1}" if result.repetition else ""
            line = (f"[{self._done:>{width}}/{self.total} {int(elapsed) // 60}:{int(elapsed) % 60:02d}] "
                    f"{result.language:6} {result.case_id + run:45} {MARKS[result.status]:>6} "
                    f"{result.elapsed_ms:7.0f} ms" + (f"  {result.problems[0][:150]}" if result.problems else ""))
            self._write(line)


def write_all(directory: pathlib.Path, cases: Sequence[Case], languages: Sequence[str],
              results: Sequence[CaseResult], header: str) -> str:
    write_junit(directory / "junit.xml", results)
    table = matrix(cases, languages, results)
    failing = [r for r in results if not r.ok]
    details = [f"- **{r.language} / {r.case_id}**: " + "; ".join(r.problems or ["listed as known failing but passed"])
               for r in failing]
    text = f"{header}\n\n{table}\n" + ("\n### Failures\n\n" + "\n".join(details) + "\n" if details else "")
    (directory / "matrix.md").write_text(text)
    (directory / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    return text
