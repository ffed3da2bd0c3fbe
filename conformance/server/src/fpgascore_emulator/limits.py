"""Bounds on what a peer's input can make the server write: every string or list taken
from a request is shortened before it enters an error message or a log line."""
from __future__ import annotations

from typing import Iterable

MAX_ECHO_CHARS = 200
MAX_ECHO_ITEMS = 5


def bounded(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` itself when short, else its first ``limit`` characters and how many were left off."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def bounded_list(items: Iterable[str], limit: int = MAX_ECHO_ITEMS) -> str:
    """Up to ``limit`` items, quoted and bounded, then how many were left off."""
    listed = list(items)
    shown = ", ".join(repr(bounded(item)) for item in listed[:limit])
    if len(listed) > limit:
        shown += f" … ({len(listed) - limit} more)"
    return shown
