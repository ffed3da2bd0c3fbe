"""Structured logs: one JSON object per line on stderr. Nothing secret is ever passed in."""
from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

_lock = threading.Lock()
_stream: TextIO = sys.stderr


def log(event: str, **fields: Any) -> None:
    record = {"ts": round(time.time(), 6), "event": event, **fields}
    line = json.dumps(record, default=str, separators=(",", ":"))
    with _lock:
        _stream.write(line + "\n")
        _stream.flush()


class LineBudget:
    """A token bucket for one kind of log line that a peer can cause at will (refusals of
    keyless calls, abandoned requests): at most ``burst`` lines at once and ``per_second`` on
    average. Lines over the budget are counted, not written; the count is reported in one
    ``log.suppressed`` line when the budget next allows a line, and by ``flush()``.
    Disabled in conformance mode, whose runner reads every line as evidence."""

    def __init__(self, kind: str, burst: int = 50, per_second: float = 10.0, enabled: bool = True) -> None:
        self.kind = kind
        self._enabled = enabled
        self._burst = burst
        self._per_second = per_second
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._suppressed = 0
        self._lock = threading.Lock()

    def log(self, event: str, **fields: Any) -> None:
        if not self._enabled:
            log(event, **fields)
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._per_second)
            self._refilled = now
            if self._tokens < 1:
                self._suppressed += 1
                return
            self._tokens -= 1
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            log("log.suppressed", kind=self.kind, lines=suppressed)
        log(event, **fields)

    def flush(self) -> None:
        with self._lock:
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            log("log.suppressed", kind=self.kind, lines=suppressed)
