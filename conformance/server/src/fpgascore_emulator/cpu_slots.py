"""How many of the server's CPU stages run at once: decoding and pre-processing an image, the
featurizer (on an FPGA's thread) and the classifier each hold one slot while they compute.

Without a bound, every call's thread and every FPGA's thread computed at the same time: 24
callers on 8 FPGAs kept about 30 threads on 2 CPUs, each numpy call handing the GIL and the
caches to the next, and each image cost far more CPU than one image alone. Measured at 8 FPGAs
x 5 ms with distinct images, the two alternating: 72 -> 92 images/s and 22 -> 17 ms of CPU per
image with one slot per CPU. One slot per CPU the process may use (``os.sched_getaffinity``) is
the default; ``--cpu-slots N`` sets another number. A stage waits for its slot; a call that
ends while it waits gives up at once (``budget.Abandoned``). Nothing waits while holding a slot,
so slots cannot deadlock.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator, Optional

from .budget import ABANDON_POLL_S, Abandoned


def default_slots() -> int:
    """One per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class CpuSlots:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one CPU slot")
        self.slots = slots
        self._free = threading.Semaphore(slots)

    @contextlib.contextmanager
    def held(self, abandoned: Optional[threading.Event] = None) -> Iterator[None]:
        """Holds a slot while the block runs; raises Abandoned once ``abandoned`` is set while
        waiting for it (None: waits until a slot is free)."""
        if abandoned is None:
            self._free.acquire()
        else:
            while not self._free.acquire(timeout=ABANDON_POLL_S):
                if abandoned.is_set():
                    raise Abandoned()
        try:
            yield
        finally:
            self._free.release()
