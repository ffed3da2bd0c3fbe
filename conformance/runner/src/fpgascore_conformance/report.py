"""Results of a run: JUnit XML, a Markdown matrix (case x language) and JSON."""
from __future__ import annotations

import dataclasses
import json
import pathlib
import xml.etree.ElementTree as ET
from typing import Dict, List, Sequence

from .cases import Case

SYMBOLS = {"pass": "✅", "fail": "❌", "xfail": "⚠️ known", "xpass": "❗ fixed?"}


@dataclasses.dataclass
class CaseResult:
    language: str
    case_id: str
    template: str
    status: str               # pass | fail | xfail (listed as known failing, failed) | xpass
    problems: List[str]
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "xfail")


def write_junit(path: pathlib.Path, results: Sequence[CaseResult]) -> None:
    suites = ET.Element("testsuites", name="fpgascore-conformance")
    for language in sorted({r.language for r in results}):
        mine = [r for r in results if r.language == language]
        suite = ET.SubElement(suites, "testsuite", name=f"conformance.{language}", tests=str(len(mine)),
                              failures=str(sum(not r.ok for r in mine)),
                              skipped=str(sum(r.status == "xfail" for r in mine)),
                              time=f"{sum(r.elapsed_ms for r in mine) / 1000:.3f}")
        for result in mine:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{language}", name=result.case_id,
                                 time=f"{result.elapsed_ms / 1000:.3f}")
            if result.status == "fail":
                ET.SubElement(case, "failure", message=result.problems[0][:500]).text = "\n".join(result.problems)
            elif result.status == "xpass":
                ET.SubElement(case, "failure", message="listed as known failing but passed")
            elif result.status == "xfail":
                ET.SubElement(case, "skipped", message="known failing: " + "; ".join(result.problems)[:500])
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def matrix(cases: Sequence[Case], languages: Sequence[str], results: Sequence[CaseResult]) -> str:
    by_key: Dict[tuple, CaseResult] = {(r.case_id, r.language): r for r in results}
    lines = ["| case | " + " | ".join(languages) + " |", "|---|" + "---|" * len(languages)]
    case_ids = [case.id for case in cases]
    case_ids += sorted({r.case_id for r in results} - set(case_ids))  # run-level checks
    for case_id in case_ids:
        cells = [SYMBOLS[by_key[(case_id, lang)].status] if (case_id, lang) in by_key else "—"
                 for lang in languages]
        lines.append(f"| `{case_id}` | " + " | ".join(cells) + " |")
    totals = []
    for lang in languages:
        mine = [r for r in results if r.language == lang]
        totals.append(f"{sum(r.status == 'pass' for r in mine)}/{len(mine)}")
    lines.append("| **passed** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


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
