#!/usr/bin/env python3
"""The two C# code-style rules the compiler never reports (Roslyn's EnforceOnBuild.Never), checked
on the source text: the lint suite's `csharp-style` (scripts/lint.sh).

  IDE0003  no `this.` qualification          (.editorconfig: dotnet_style_qualification_for_* = false)
  IDE0049  the language's type keywords       (dotnet_style_predefined_type_for_* = true):
           `int`, `string`, `int.MaxValue`, not `Int32`, `System.String`, `String.Empty`

`dotnet format style --diagnostics IDE0003 IDE0049` checks the same, from a compiled workspace of
every project: about 30 CPU-seconds for two rules whose every case is visible in the tokens. Comments,
strings and character literals are blanked first (verbatim, interpolated and raw strings too; the
code inside an interpolation hole is still checked). A type name right after a `.` is a member of
something else (`Assert.Single`, `JsonValueKind.Object`) unless that something is `System`.
A name followed by `(` is a method (`Single(...)`), except after `new`. Where Roslyn needs names
this check has none: it keeps the `this.` of `this.count = count` (a parameter of the same name),
and any other `this.` a local of the same name would need is reported: rename the local.

    scripts/csharp_style.py [DIR_OR_FILE ...]    (default csharp/; obj/ and bin/ are left out)
Prints each finding as PATH:LINE:COLUMN: RULE message; exits 1 when there is one, 2 when a path is
missing or holds no .cs file.
"""
from __future__ import annotations

import pathlib
import re
import sys
from typing import Iterator, List, Tuple

# The .NET types that have a C# keyword (IDE0049), and the keyword.
KEYWORDS = {
    "Boolean": "bool", "Byte": "byte", "SByte": "sbyte", "Char": "char", "Decimal": "decimal",
    "Double": "double", "Single": "float", "Int16": "short", "Int32": "int", "Int64": "long",
    "UInt16": "ushort", "UInt32": "uint", "UInt64": "ulong", "Object": "object", "String": "string",
}
_TYPE_NAME = re.compile(r"\b(?:(System)\s*\.\s*)?(" + "|".join(KEYWORDS) + r")\b")
_THIS = re.compile(r"\bthis\s*\.\s*(\w+)")
_SHADOWED = re.compile(r"\s*=\s*(\w+)\s*[;,)]")   # this.count = count; the parameter needs the this.
_MEMBER_OF = re.compile(r"\.\s*$")   # the code before a name ends with a dot
_NEW = re.compile(r"\bnew\s*$")
_CALLED = re.compile(r"\s*\(")        # Single(...): a method of that name, declared or called
_QUOTES = re.compile(r'"+')
_STRING_PREFIX = re.compile(r"(\$*)(@?)(\$*)\"")   # "...", @"...", $"...", $@"...", @$"...", $$"""..."""
_SKIPPED_FOLDERS = {"obj", "bin"}


def blank_non_code(text: str) -> str:
    """The source with comments, strings and character literals replaced by spaces (newlines
    kept, so lines and columns stay), the code of interpolation holes kept."""
    out: List[str] = []
    _code(text, 0, out, hole=False)
    return "".join(out)


def _blank(text: str) -> str:
    return "".join(c if c == "\n" else " " for c in text)


def _code(text: str, i: int, out: List[str], hole: bool) -> int:
    """Copies code from i until the end (or, in an interpolation hole, its closing brace);
    returns the index after what it consumed."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(_blank(text[i:end]))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(_blank(text[i:end]))
            i = end
        elif c == "'":
            i = _char_literal(text, i, out)
        elif c in "@$\"" and (string := _string_start(text, i)) is not None:
            i = _string(text, i, out, *string)
        elif hole and c == "{":
            depth += 1
            out.append(c)
            i += 1
        elif hole and c == "}":
            if depth == 0:
                return i
            depth -= 1
            out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
    return i


def _char_literal(text: str, i: int, out: List[str]) -> int:
    j = i + 1
    while j < len(text) and text[j] not in "'\n":
        j += 2 if text[j] == "\\" else 1
    end = min(j + 1, len(text))
    out.append(_blank(text[i:end]))
    return end


def _string_start(text: str, i: int) -> Tuple[int, bool, bool, int] | None:
    """At a string literal's first character: (prefix length, verbatim, interpolated, dollars)."""
    match = _STRING_PREFIX.match(text, i)
    if match is None:
        return None
    dollars = len(match.group(1)) + len(match.group(3))
    return match.end() - 1 - i, bool(match.group(2)), dollars > 0, dollars


def _string(text: str, i: int, out: List[str], prefix: int, verbatim: bool, interpolated: bool,
            dollars: int) -> int:
    start = i + prefix
    run = _QUOTES.match(text, start)   # the quote(s) that open it: a raw string has three or more
    quotes = run.end() - start if run else 1
    if quotes >= 3:   # a raw string: ends at the same number of quotes
        body = start + quotes
        return _string_body(text, i, body, '"' * quotes, out, raw=True, interpolated=interpolated,
                            braces=max(dollars, 1))
    return _string_body(text, i, start + 1, '"', out, raw=False, interpolated=interpolated, braces=1,
                        verbatim=verbatim)


def _string_body(text: str, i: int, j: int, closing: str, out: List[str], raw: bool, interpolated: bool,
                 braces: int, verbatim: bool = False) -> int:
    out.append(_blank(text[i:j]))
    n = len(text)
    while j < n:
        if not raw and not verbatim and text[j] == "\\":
            out.append(_blank(text[j:j + 2]))
            j += 2
        elif text.startswith(closing, j):
            if verbatim and text.startswith('""', j):   # "" in a verbatim string is one quote
                out.append("  ")
                j += 2
                continue
            out.append(_blank(closing))
            return j + len(closing)
        elif interpolated and braces == 1 and (text.startswith("{{", j) or text.startswith("}}", j)):
            out.append("  ")   # an escaped brace
            j += 2
        elif interpolated and text.startswith("{" * braces, j):
            out.append(" " * braces)
            j = _code(text, j + braces, out, hole=True)
            if j < n:   # the hole's closing brace(s)
                out.append(" " * braces)
                j += braces
        elif not raw and not verbatim and text[j] == "\n":   # an unterminated string ends its line
            return j
        else:
            out.append(_blank(text[j]))
            j += 1
    return j


def findings(path: pathlib.Path) -> Iterator[Tuple[int, int, str, str]]:
    """(line, column, rule, message) of each violation in one file."""
    code = blank_non_code(path.read_text(encoding="utf-8-sig"))
    for number, line in enumerate(code.split("\n"), start=1):
        for match in _THIS.finditer(line):
            assigned = _SHADOWED.match(line, match.end())
            if assigned and assigned.group(1) == match.group(1):
                continue   # this.count = count: without this., the parameter would be assigned to itself
            yield number, match.start() + 1, "IDE0003", "remove 'this.' (dotnet_style_qualification_for_* = false)"
        for match in _TYPE_NAME.finditer(line):
            qualified, name = match.group(1), match.group(2)
            before = line[:match.start()]
            if not qualified and _MEMBER_OF.search(before):
                continue   # a member named like the type: Assert.Single, JsonValueKind.Object
            if not qualified and _CALLED.match(line, match.end()) and not _NEW.search(before):
                continue   # a method named like the type (but new Object() is the type)
            written = f"System.{name}" if qualified else name
            yield (number, match.start() + 1, "IDE0049",
                   f"use '{KEYWORDS[name]}', not '{written}' (dotnet_style_predefined_type_for_* = true)")


def sources(arguments: List[str]) -> Iterator[pathlib.Path]:
    for argument in arguments:
        root = pathlib.Path(argument)
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*.cs")):
            if not _SKIPPED_FOLDERS.intersection(path.relative_to(root).parts[:-1]):
                yield path


def main(argv: List[str]) -> int:
    arguments = argv or ["csharp"]
    missing = [a for a in arguments if not pathlib.Path(a).exists()]
    if missing:
        print(f"csharp_style: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    count = files = 0
    for path in sources(arguments):
        files += 1
        for line, column, rule, message in findings(path):
            print(f"{path}:{line}:{column}: {rule} {message}")
            count += 1
    if files == 0:
        print(f"csharp_style: no .cs file in {', '.join(arguments)}", file=sys.stderr)
        return 2
    print(f"csharp_style: {files} files, {count} findings" if count else f"csharp_style: {files} files, no finding")
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
