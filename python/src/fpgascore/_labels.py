"""The ImageNet class labels shipped with the package, and top-k predictions."""
from __future__ import annotations

import functools
from importlib import resources
from typing import List, NamedTuple, Tuple

import numpy as np
import numpy.typing as npt

__all__ = ["Prediction", "labels", "label", "top_k"]


class Prediction(NamedTuple):
    """One class of a score vector: its id (0-999), its ImageNet label, its score."""

    class_id: int
    label: str
    score: float


@functools.lru_cache(maxsize=1)
def labels() -> Tuple[str, ...]:
    """The 1000 ImageNet labels; the 0-based line number is the class id."""
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def label(class_id: int) -> str:
    """The label of ``class_id``, or ``class <id>`` for an id outside the table."""
    table = labels()
    return table[class_id] if 0 <= class_id < len(table) else f"class {class_id}"


def top_k(scores: npt.ArrayLike, k: int = 5) -> List[Prediction]:
    """The ``k`` highest scores of one image, best first; ties go to the lower class id.

    ``scores`` is one row (shape ``[1000]``, or ``[1, 1000]``); for a batch call it per row.
    """
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"top_k takes one row of scores, not shape {array.shape}; call it per row")
    if k <= 0:
        return []
    order = np.argsort(-array, kind="stable")[:k]
    return [Prediction(int(i), label(int(i)), float(array[i])) for i in order]
