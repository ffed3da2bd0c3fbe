"""Finding the fenced code blocks of the repository's Markdown files, and their markers.

A block is a fence whose info string is one of LANGUAGES' keys (```python, ```go, ```csharp or
```cs, ```sh or ```bash). The line right before its fence may mark it:

    <!-- snippet: skip REASON -->      not run (REASON is required: why it cannot run here)
    <!-- snippet: run-by PATH -->      run by another test (PATH, from the repository root, must
                                       exist and name the Markdown file)
    <!-- snippet: server -->           (sh) starts a server in the background (test_snippets.py)

An unmarked block is run by tests/docs/test_snippets.py. Fences in other languages must be in
OTHER_LANGUAGES (data, not code: json, xml, text, toml); any other fence, a bare one included,
fails the test, so that no code block escapes it.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
from typing import List, Optional

ROOT = pathlib.Path(__file__).resolve().parents[2]
LANGUAGES = {"python": "python", "go": "go", "csharp": "csharp", "cs": "csharp", "sh": "sh", "bash": "sh"}
OTHER_LANGUAGES = {"json", "xml", "text", "toml"}
MARKER = re.compile(r"<!--\s*snippet:\s*(?P<kind>[a-z-]+)\s*(?P<arg>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`\s]*)\s*$")


@dataclasses.dataclass
class Block:
    path: str            # relative to the repository root
    line: int            # the line of the opening fence, from 1
    language: str        # one of LANGUAGES' values, or the raw info string of another fence
    code: str
    marker: Optional[str] = None     # skip, run-by, server (None: run)
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def markdown_files() -> List[str]:
    out = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return sorted(path for path in out.split() if (ROOT / path).is_file())


def blocks(path: str) -> List[Block]:
    lines = (ROOT / path).read_text().splitlines()
    found: List[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info, start = match.group("fence"), match.group("info"), i
        body: List[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence) and lines[i].strip().strip(fence[0]) == ""):
            body.append(lines[i][len(match.group("indent")):])
            i += 1
        i += 1
        block = Block(path, start + 1, LANGUAGES.get(info, info), "\n".join(body) + "\n")
        previous = lines[start - 1] if start > 0 else ""
        marker = MARKER.search(previous)
        if marker:
            block.marker, block.argument = marker.group("kind"), marker.group("arg")
        found.append(block)
    return found


def all_blocks() -> List[Block]:
    return [block for path in markdown_files() for block in blocks(path)]
