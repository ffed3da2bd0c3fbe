"""The model behind the service, stage by stage: pre-process (CPU), featurize (the emulated
FPGA), classify (CPU). ``emulated()`` is the real emulation (in C where the native kernels are
built, ``kernels``; the same bits in numpy otherwise); ``null()`` does no work at all
(every image scores a uniform 1/1000) so benchmarks can see transport and client costs
without the model's CPU time (``--null-model``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Tuple

import numpy as np

from . import bfp, kernels, network
from .decoding import read_header
from .network import CLASSES, FEATURES, SEED, Classifier, Featurizer
from .preprocess import image_to_input


@dataclasses.dataclass(frozen=True)
class Model:
    pixels: Callable[[bytes], int]                   # what an image's header declares (0: not decoded)
    preprocess: Callable[[bytes], np.ndarray[Any, Any]]        # JPEG/PNG bytes -> featurizer input
    featurize: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]    # [224, 224, 3] -> [2048]
    classify: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]     # [N, 2048] -> [N, 1000]
    # Every setting the scores depend on (the score cache's key holds them all).
    settings: Tuple[object, ...] = ()
    # Whether scores are worth caching (the null model's cost nothing).
    cacheable: bool = False
    # What computes it: "native (...)" or "numpy (why)" (``kernels.status``), logged at start.
    kernels: str = "none"


def emulated(seed: int = SEED) -> Model:
    return Model(_declared_pixels, image_to_input, Featurizer(seed), Classifier(seed),
                 settings=("emulated", seed, bfp.MANTISSA_BITS, network.CLASSIFIER_BITS, network.LOGIT_EXPONENT,
                           network.IMAGE_SIZE, FEATURES, CLASSES),
                 cacheable=True, kernels=kernels.status())


def _declared_pixels(data: bytes) -> int:
    return read_header(data).pixels


_NO_INPUT = np.zeros((0,), dtype=np.float32)


def null() -> Model:
    features = np.zeros(FEATURES, dtype=np.float32)
    return Model(pixels=lambda data: 0,
                 preprocess=lambda data: _NO_INPUT,
                 featurize=lambda image: features,
                 classify=lambda batch: np.full((len(batch), CLASSES), 1.0 / CLASSES, dtype=np.float32),
                 settings=("null", CLASSES))
