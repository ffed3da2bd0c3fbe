"""A bounded, content-addressed cache of scores (``--score-cache-entries``, ``--score-cache-bytes``).

The model is deterministic: the same image bytes under the same model settings always score
the same bits. So the scores of an encoded image are kept under the SHA-256 of the model's
settings and the bytes; an image seen again skips decoding, pre-processing, featurizing and
classifying. It still takes its emulated FPGA time (the cache saves CPU, not emulated time),
and everything the conformance controls do happens to the answer as before (the cached
scores are read-only; the answer is a new array).

Bounded by entries and by bytes (least recently used first out), thread-safe; ``hits``,
``misses``, ``entries`` and ``bytes`` feed the server's metrics.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import threading
from typing import Any, Optional, OrderedDict

import numpy as np

# What one entry costs besides its scores: the key, the dict node, the array's header.
ENTRY_OVERHEAD_BYTES = 256


@dataclasses.dataclass(frozen=True)
class Entry:
    scores: np.ndarray[Any, Any]   # [classes] float32, read-only
    pixels: int                    # what the image's header declares (the decode budgets' count)

    @property
    def size(self) -> int:
        return int(self.scores.nbytes) + ENTRY_OVERHEAD_BYTES


def model_key(*settings: object) -> bytes:
    """The prefix of every key of one model: each setting that changes the scores (or names
    the model), in order, as text."""
    return hashlib.sha256(repr(settings).encode()).digest()


class ScoreCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max(0, max_entries)
        self.max_bytes = max(0, max_bytes)
        self._entries: OrderedDict[bytes, Entry] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    @staticmethod
    def key(model: bytes, image: bytes) -> bytes:
        """The key of ``image``'s scores under the model whose ``model_key`` is ``model``."""
        digest = hashlib.sha256(model)
        digest.update(image)
        return digest.digest()

    def get(self, key: bytes) -> Optional[Entry]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: bytes, scores: np.ndarray[Any, Any], pixels: int) -> None:
        """Keeps a copy of ``scores`` (read-only) under ``key``, evicting the least recently
        used entries beyond the bounds; an entry larger than the whole byte bound is not kept."""
        if not self.enabled:
            return
        kept = np.array(scores, dtype=np.float32)
        kept.setflags(write=False)
        entry = Entry(kept, pixels)
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    @property
    def entries(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes
