"""The emulator's model as it was first written (before the exact fast paths of issue #21):
float64 element-wise pre-processing over the whole resized width and a float64 featurizer,
kept here verbatim as the oracle the fast paths must match bit for bit on any image, not
only on the golden ones. Not used by the server."""
from typing import Any, Tuple

import numpy as np

from fpgascore_emulator import bfp
from fpgascore_emulator.network import Featurizer

RESIZE_SHORTER_SIDE = 256
CROP = 224
MEANS_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    height, width, _ = rgb.shape
    scale = RESIZE_SHORTER_SIDE / min(height, width)
    out_h = max(RESIZE_SHORTER_SIDE, int(round(height * scale)))
    out_w = max(RESIZE_SHORTER_SIDE, int(round(width * scale)))
    top, left = (out_h - CROP) // 2, (out_w - CROP) // 2
    rows0, rows1, row_w = _bilinear_taps(height, out_h, top, CROP)
    cols0, cols1, col_w = _bilinear_taps(width, out_w, left, CROP)
    vertical = (rgb[rows0].astype(np.float64) * (1.0 - row_w)[:, None, None]
                + rgb[rows1].astype(np.float64) * row_w[:, None, None])
    both = vertical[:, cols0] * (1.0 - col_w)[None, :, None] + vertical[:, cols1] * col_w[None, :, None]
    normalized = both.astype(np.float32) - MEANS_RGB
    return np.ascontiguousarray(normalized[:, :, ::-1])


def _bilinear_taps(in_size: int, out_size: int, start: int, count: int) -> Tuple[Any, Any, Any]:
    positions = (np.arange(start, start + count, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    positions = np.clip(positions, 0.0, in_size - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, positions - lower


def _patches(x: np.ndarray, size: int) -> np.ndarray:
    h, w, c = x.shape
    x = x.reshape(h // size, size, w // size, size, c).transpose(0, 2, 1, 3, 4)
    return x.reshape((h // size) * (w // size), size * size * c)


def _sum_rows_exact(mantissas: np.ndarray, exponents: np.ndarray, span: int = 24) -> Tuple[np.ndarray, int]:
    top = int(exponents.max()) if exponents.size else 0
    floor = top - span
    shifts = np.where(exponents >= floor, exponents - floor, -1).astype(np.int64)
    kept = shifts >= 0
    scaled = mantissas[kept].astype(np.int64) << shifts[kept][:, None]
    return scaled.sum(axis=0), floor


def featurize(model: Featurizer, image: np.ndarray) -> np.ndarray:
    """The float64 featurizer, with ``model``'s weights."""
    w1, e1, t1 = model._w1, model._e1, model._t1
    w2, e2, t2 = model._w2, model._e2, model._t2
    w3, e3, t3 = model._w3, model._e3, model._t3
    x = _patches(image.astype(np.float64), 8)
    x = np.maximum(bfp.matmul(*bfp.quantize_rows(x, dtype=t1), w1, e1), 0.0)
    x = _patches(x.reshape(28, 28, 128), 2)
    x = np.maximum(bfp.matmul(*bfp.quantize_rows(x, dtype=t2), w2, e2), 0.0)
    sums, exponent = _sum_rows_exact(*bfp.quantize_rows(x))
    pooled = np.ldexp(sums.astype(np.float64), exponent) / x.shape[0]
    x = bfp.matmul(*bfp.quantize_rows(pooled[None, :], dtype=t3), w3, e3)
    features: np.ndarray = np.maximum(x[0], 0.0).astype(np.float32)
    return features
