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
