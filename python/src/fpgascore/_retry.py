"""The retry policy shared by every fpgascore client (conformance/CLIENT_SPEC.md).

Retried: UNAVAILABLE, ABORTED, and RESOURCE_EXHAUSTED only when the server sent
``grpc-retry-pushback-ms`` >= 0; never a TLS certificate failure (the clients check that
before asking the planner). Before retry n (1, 2, ...) the client sleeps a uniformly
random time in ``[0, min(max_backoff, initial_backoff * multiplier ** (n - 1))]`` (full
jitter), or the server's pushback when that is larger. A retry whose sleep would end after
the call's deadline is not made.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional

import grpc

from ._errors import Metadata, metadata_value

__all__ = ["RetryPolicy", "RetryPlanner", "PUSHBACK_KEY", "is_retryable", "pushback_seconds"]

PUSHBACK_KEY = "grpc-retry-pushback-ms"

_ALWAYS_RETRIED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED})
_JITTER = random.Random()  # shared: seeding a generator per call costs more than the call's bookkeeping


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed call is retried. ``max_attempts=1`` disables retries.

    Attributes:
        max_attempts: attempts in all, the first one included (>= 1).
        initial_backoff: upper bound of the first sleep, in seconds (> 0).
        max_backoff: cap of the upper bound, in seconds (>= initial_backoff).
        multiplier: growth of the upper bound per retry (>= 1).
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, not {self.max_attempts!r}")
        if not self.initial_backoff > 0:
            raise ValueError(f"initial_backoff must be > 0, not {self.initial_backoff!r}")
        if not self.max_backoff >= self.initial_backoff:
            raise ValueError("max_backoff must be >= initial_backoff")
        if not self.multiplier >= 1:
            raise ValueError(f"multiplier must be >= 1, not {self.multiplier!r}")

    @classmethod
    def no_retries(cls) -> "RetryPolicy":
        """A policy that never retries (``max_attempts=1``): Go's ``NoRetries()``, C#'s ``RetryPolicy.NoRetries``."""
        return cls(max_attempts=1)

    @classmethod
    def disabled(cls) -> "RetryPolicy":
        """The same as :meth:`no_retries` (its earlier name)."""
        return cls.no_retries()

    def backoff_bound(self, retry: int) -> float:
        """The upper bound of the sleep before retry ``retry`` (1-based), in seconds."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        # Compute in a way that cannot overflow for large retry numbers.
        bound = self.initial_backoff
        for _ in range(retry - 1):
            bound *= self.multiplier
            if bound >= self.max_backoff:
                return self.max_backoff
        return min(self.max_backoff, bound)


def pushback_seconds(trailing_metadata: Metadata) -> Optional[float]:
    """The server's ``grpc-retry-pushback-ms`` in seconds; None when absent, negative or bad."""
    value = metadata_value(trailing_metadata, PUSHBACK_KEY)
    if value is None:
        return None
    try:
        millis = int(value.strip())
    except ValueError:
        return None
    return millis / 1000.0 if millis >= 0 else None


def is_retryable(code: Optional[grpc.StatusCode], trailing_metadata: Metadata) -> bool:
    """Whether the policy allows retrying an attempt that failed with ``code``."""
    if code in _ALWAYS_RETRIED:
        return True
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return pushback_seconds(trailing_metadata) is not None
    return False


class RetryPlanner:
    """Decides, for one logical call, whether and after how long to retry."""

    def __init__(self, policy: RetryPolicy, deadline: float, clock: Callable[[], float],
                 rng: Optional[random.Random] = None) -> None:
        self._policy = policy
        self._deadline = deadline
        self._clock = clock
        self._rng = rng or _JITTER
        self.retries = 0

    def next_sleep(self, code: Optional[grpc.StatusCode], trailing_metadata: Metadata,
                   attempts_made: int) -> Optional[float]:
        """Seconds to sleep before the next attempt, or None when the call must give up."""
        if attempts_made >= self._policy.max_attempts or not is_retryable(code, trailing_metadata):
            return None
        sleep = self._rng.uniform(0.0, self._policy.backoff_bound(self.retries + 1))
        pushback = pushback_seconds(trailing_metadata)
        if pushback is not None and pushback > sleep:
            sleep = pushback
        if self._clock() + sleep >= self._deadline:
            return None
        self.retries += 1
        return sleep
