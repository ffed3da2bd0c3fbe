"""Deterministic pseudo-random weights, the same on every machine and numpy version.

numpy's Generator streams may change between numpy releases, so the weights come from a
small counter-based generator (SplitMix64's finalizer over ``seed * 2**32 + index``) written
in plain uint64 arithmetic.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(counter: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    with np.errstate(over="ignore"):
        z = counter * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def integer_weights(seed: int, shape: tuple[int, ...], bits: int) -> np.ndarray[Any, Any]:
    """Integers uniform in [-(2**bits - 1), 2**bits - 1], as float64, for a weight tensor."""
    count = int(np.prod(shape))
    counter = np.arange(count, dtype=np.uint64) + np.uint64(seed << 32)
    span = np.uint64(2 ** (bits + 1) - 1)
    values = (_splitmix64(counter) % span).astype(np.int64) - (2**bits - 1)
    weights: np.ndarray[Any, Any] = values.astype(np.float64).reshape(shape)
    return weights
