"""The server-wide decode budget: how many pixels may be decoding at once, over every call.

Decoding holds the whole picture in memory (about 11 bytes per pixel at the peak, PIL's
copy and numpy's), so the budget bounds the server's memory whatever callers send; a call
waits its turn, first come first served, and is refused with a retry hint when its turn does
not come within its wait. An image larger than the whole budget decodes alone.

Small images (photos up to ``SMALL_IMAGE_PIXELS``) have a lane of their own, a quarter of the
budget on top of it, so they never wait behind a large one (first come first served would
otherwise hold a thumbnail behind a 40-megapixel image for a second).
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import ContextManager, Deque, Iterator, Optional

SMALL_IMAGE_PIXELS = 4_000_000
# Used only for the retry hint: a rough rate at which this server decodes (PNG, 2 cores).
_HINT_PIXELS_PER_S = 50_000_000
# How often a waiter checks whether its call ended (decode budget, CPU slots).
ABANDON_POLL_S = 0.05


class BudgetBusy(Exception):
    """The pixels did not fit within the wait: other calls are decoding."""

    def __init__(self, held: int, waiting: int, retry_after_ms: int) -> None:
        super().__init__(f"the server is busy decoding images ({held / 1e6:.1f} megapixels decoding, "
                         f"{waiting} other calls waiting); retry later")
        self.retry_after_ms = retry_after_ms


class Abandoned(Exception):
    """The call ended (cancelled, deadline, shutdown) while it waited."""


class _Ticket:
    __slots__ = ("wanted",)

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted


class DecodeBudget:
    def __init__(self, capacity_pixels: int) -> None:
        if capacity_pixels < 1:
            raise ValueError("the decode budget needs at least one pixel")
        self.capacity = capacity_pixels
        self._held = 0
        self._queue: Deque[_Ticket] = collections.deque()
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int, timeout: Optional[float], abandoned: threading.Event) -> Iterator[None]:
        """Holds ``pixels`` of the budget (at most all of it) while the block runs. Raises
        BudgetBusy after ``timeout`` seconds (None: no limit), Abandoned once ``abandoned`` is set."""
        wanted = min(max(pixels, 0), self.capacity)
        if wanted == 0:
            yield
            return
        self._acquire(wanted, timeout, abandoned)
        try:
            yield
        finally:
            with self._changed:
                self._held -= wanted
                self._changed.notify_all()

    def _acquire(self, wanted: int, timeout: Optional[float], abandoned: threading.Event) -> None:
        ticket = _Ticket(wanted)
        until = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._queue.append(ticket)
            try:
                while not (self._queue[0] is ticket and self._held + wanted <= self.capacity):
                    if abandoned.is_set():
                        raise Abandoned()
                    left = None if until is None else until - time.monotonic()
                    if left is not None and left <= 0:
                        raise BudgetBusy(self._held, len(self._queue) - 1, self._retry_hint_ms())
                    self._changed.wait(ABANDON_POLL_S if left is None else min(left, ABANDON_POLL_S))
                self._held += wanted
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()

    def _retry_hint_ms(self) -> int:
        """Time to decode what is decoding and queued now (the refused call included)."""
        queued = sum(ticket.wanted for ticket in self._queue)
        return max(1, int(1000 * (self._held + queued) / _HINT_PIXELS_PER_S))

    def held(self) -> int:
        with self._changed:
            return self._held


class DecodeLanes:
    """The server's decode budget: a lane for large images (``capacity_pixels``) and one for
    small ones (a quarter of it, at least one small image's worth)."""

    def __init__(self, capacity_pixels: int) -> None:
        self.large = DecodeBudget(capacity_pixels)
        self.small = DecodeBudget(max(SMALL_IMAGE_PIXELS, capacity_pixels // 4))

    def held(self) -> int:
        """Pixels decoding now, both lanes."""
        return self.large.held() + self.small.held()

    def hold(self, pixels: int, timeout: Optional[float], abandoned: threading.Event) -> ContextManager[None]:
        lane = self.small if pixels <= SMALL_IMAGE_PIXELS else self.large
        return lane.hold(pixels, timeout, abandoned)
