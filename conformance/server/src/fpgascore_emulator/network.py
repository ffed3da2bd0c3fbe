"""The emulated model: a small fixed-seed convolutional featurizer run in block floating
point (the "FPGA" part) and a 2048 -> 1000 classifier with softmax (the CPU part).

No ResNet-50 weights can be had offline, so the featurizer stands in for ResNet-50's
convolutional trunk with the same interface: a pre-processed 224x224x3 BGR image in,
2048 features out. Its layers (all weights from :mod:`weights`, seed fixed):

    patchify 8x8, stride 8   224x224x3 -> 28x28x192  -> BFP matmul 192->128, ReLU
    patchify 2x2, stride 2   28x28x128 -> 14x14x512  -> BFP matmul 512->256, ReLU
    global average pool      14x14x256 -> 256        (exact integer accumulation)
    fully connected          256 -> 2048, ReLU       (BFP)  = the features

Every BFP matmul is exact (see :mod:`bfp`), so features are bit-identical everywhere. Where
the native kernels are built (:mod:`kernels`), C computes the same integers (in int32) and the
same roundings; the numpy code below is the fallback and the definition.
The classifier quantizes the features to 8-bit BFP, multiplies by zero-mean integer
weights (exact again) and applies a softmax computed with ``math.exp`` and ``math.fsum`` (correctly
rounded sum), so the scores are reproducible bit for bit too.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import math

import numpy as np

from . import bfp, kernels as native
from .weights import integer_weights

IMAGE_SIZE = 224
FEATURES = 2048
CLASSES = 1000
SEED = 20181105
CLASSIFIER_BITS = 7
# Fixes the softmax temperature: logits = integer dot products * 2**LOGIT_EXPONENT.
LOGIT_EXPONENT = -25


class Featurizer:
    """The network that runs on the emulated FPGA: [224, 224, 3] float32 -> [2048] float32."""

    def __init__(self, seed: int = SEED, kernels: Any = native.LOADED) -> None:
        self._w1, self._e1, self._t1 = _bfp_layer(seed + 1, (192, 128))
        self._w2, self._e2, self._t2 = _bfp_layer(seed + 2, (512, 256))
        self._w3, self._e3, self._t3 = _bfp_layer(seed + 3, (256, FEATURES))
        # The native kernel: the mantissas as int16 pairs (``kernels.weight_pairs``); it assumes
        # what the network's weights are (float32 products, column exponents 0), not used otherwise.
        self._native = native.chosen(kernels)
        if not (all(t is np.float32 for t in (self._t1, self._t2, self._t3))
                and not any(np.any(e) for e in (self._e1, self._e2, self._e3))):
            self._native = None
        # Where the CPU has only the portable product kernel, BLAS's float32 products are faster
        # (1.5 against 6 ms here): the featurizer then runs numpy, unless given kernels itself.
        if kernels is native.LOADED and self._native is not None and self._native.variant() == "portable":
            self._native = None
        self._pairs = [native.weight_pairs(w) for w in (self._w1, self._w2, self._w3)]

    def __call__(self, image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if image.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
            raise ValueError(f"featurizer input must be [224, 224, 3], got {list(image.shape)}")
        if self._native is not None:
            native = self._native.featurize(np.ascontiguousarray(image, dtype=np.float32), *self._pairs)
            if native is not None:
                return native
        pooled = self._pooled_float32(image)
        if pooled is None:
            pooled = self._pooled_float64(image)
        x = bfp.matmul(*bfp.quantize_rows(pooled[None, :], dtype=self._t3), self._w3, self._e3)
        features: np.ndarray[Any, Any] = np.maximum(x[0], 0.0).astype(np.float32)
        return features

    def _pooled_float64(self, image: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The two convolutions and the pool in float64 (any finite input)."""
        x = _patches(image.astype(np.float64), 8)                      # [784, 192]
        x = np.maximum(bfp.matmul(*bfp.quantize_rows(x, dtype=self._t1), self._w1, self._e1), 0.0)
        x = _patches(x.reshape(28, 28, 128), 2)                         # [196, 512]
        x = np.maximum(bfp.matmul(*bfp.quantize_rows(x, dtype=self._t2), self._w2, self._e2), 0.0)
        return _pool(*bfp.quantize_rows(x), x.shape[0])

    def _pooled_float32(self, image: np.ndarray[Any, Any]) -> Optional[np.ndarray[Any, Any]]:
        """The same operations in float32, or None where they might not be exact.

        Every value here is an integer times a power of two: the input is float32, mantissas
        are integers of at most 5 bits, the layers' products are integers below 2**24 (exact in
        float32, see ``bfp.product_dtype``) times 2**(row exponent + column exponent). float32
        holds each of them exactly, and scaling by a power of two is exact, as long as the
        exponents stay far from float32's range (``bfp.FLOAT32_SAFE_EXPONENT``): then each
        step gives the same value as in float64, and the features the same bits. Pre-processed
        images always are (exponents near 3); a float input with extreme values is not, and
        takes the float64 path."""
        x = _patches(np.asarray(image, dtype=np.float32), 8)          # [784, 192]
        quantized = bfp.quantize_rows_float32(x)
        if quantized is None or self._t1 is not np.float32:
            return None
        products = bfp.scaled_product_float32(*quantized, self._w1, self._e1)
        if products is None:
            return None
        np.maximum(products, 0.0, out=products)
        x = _patches(products.reshape(28, 28, 128), 2)                  # [196, 512]
        quantized = bfp.quantize_rows_float32(x, nonnegative=True)
        if quantized is None or self._t2 is not np.float32:
            return None
        products = bfp.scaled_product_float32(*quantized, self._w2, self._e2)
        if products is None:
            return None
        np.maximum(products, 0.0, out=products)
        quantized = bfp.quantize_rows_float32(products, nonnegative=True)
        if quantized is None:
            return None
        return _pool(*quantized, products.shape[0])


class Classifier:
    """The CPU classifier: [N, 2048] features -> [N, 1000] softmax scores (float32)."""

    def __init__(self, seed: int = SEED, kernels: Any = native.LOADED) -> None:
        weights = integer_weights(seed + 4, (FEATURES, CLASSES), CLASSIFIER_BITS)
        # Centre each class's weights (times FEATURES, to stay in integers): ReLU features
        # share a large common component that would otherwise pick the same class for all.
        # The centred product m @ (w * FEATURES - colsum) is computed as
        # (m @ w) * FEATURES - sum(m) * colsum, every term an exact integer; m @ w in float32
        # over two halves of the features, each of whose sums stays below 2**24 (1024 terms of
        # at most 127 x 127), so float32 BLAS is exact too and reads half the bytes.
        self._halves = [np.ascontiguousarray(part, dtype=np.float32) for part in np.split(weights, 2)]
        assert all(bfp.product_dtype(len(part), CLASSIFIER_BITS, CLASSIFIER_BITS) is np.float32
                   for part in self._halves)
        self._column_sums = weights.sum(axis=0, keepdims=True)
        # The native kernel's copies: int8 weights, class-major, and the column sums as integers.
        self._native = native.chosen(kernels)
        self._weights_t = np.ascontiguousarray(weights.T, dtype=np.int8)
        self._integer_column_sums = np.ascontiguousarray(self._column_sums[0], dtype=np.int64)

    def __call__(self, features: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if features.ndim != 2 or features.shape[1] != FEATURES:
            raise ValueError(f"classifier input must be [N, {FEATURES}], got {list(features.shape)}")
        if self._native is not None:
            exps = self._native.exponentials(np.ascontiguousarray(features, dtype=np.float32), self._weights_t,
                                             self._integer_column_sums, LOGIT_EXPONENT)
            if exps is not None:
                totals = np.array([math.fsum(row) for row in exps.tolist()], dtype=np.float64)
                normalized: np.ndarray[Any, Any] = (exps / totals[:, None]).astype(np.float32)
                return normalized
        mantissas, _ = bfp.quantize_rows(features, CLASSIFIER_BITS)  # scale-free logits
        narrow = mantissas.astype(np.float32)
        half = self._halves[0].shape[0]
        products = ((narrow[:, :half] @ self._halves[0]).astype(np.float64)
                    + (narrow[:, half:] @ self._halves[1]).astype(np.float64))
        centred = products * FEATURES - mantissas.sum(axis=1, keepdims=True) * self._column_sums
        logits = np.ldexp(centred, LOGIT_EXPONENT)
        scores: np.ndarray[Any, Any] = np.stack([_softmax(row) for row in logits]).astype(np.float32)
        return scores


def _bfp_layer(seed: int, shape: Tuple[int, int]) -> Tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], Any]:
    """A [k, n] weight matrix in BFP: (mantissas, column exponents, dtype), the mantissas in the
    narrowest type whose k-term products are still exact (the layer's inputs use it too)."""
    dtype = bfp.product_dtype(shape[0])
    mantissas, exponents = bfp.quantize_columns(integer_weights(seed, shape, bfp.MANTISSA_BITS), dtype=dtype)
    return mantissas, exponents, dtype


def _pool(mantissas: np.ndarray[Any, Any], exponents: np.ndarray[Any, Any], rows: int) -> np.ndarray[Any, Any]:
    """Global average pool of a row-blocked BFP matrix: exact integer sum, then the mean."""
    sums, exponent = bfp.sum_rows_exact(mantissas, exponents)     # [256]
    pooled: np.ndarray[Any, Any] = np.ldexp(sums.astype(np.float64), exponent) / rows
    return pooled


def _patches(x: np.ndarray[Any, Any], size: int) -> np.ndarray[Any, Any]:
    """[H, W, C] -> [(H/size)*(W/size), size*size*C] non-overlapping patches, row-major."""
    h, w, c = x.shape
    x = x.reshape(h // size, size, w // size, size, c).transpose(0, 2, 1, 3, 4)
    return x.reshape((h // size) * (w // size), size * size * c)


def _softmax(logits: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """math.exp (the C library's, the same on every machine this runs on) of each shifted
    logit, summed correctly rounded; numpy's own exp may differ in the last bit by CPU."""
    exps = list(map(math.exp, (logits - logits.max()).tolist()))
    return np.array(exps, dtype=np.float64) / math.fsum(exps)
