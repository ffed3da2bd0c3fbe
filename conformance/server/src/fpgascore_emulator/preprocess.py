"""CPU pre-processing, as the scoring service did it before the FPGA:
decode JPEG/PNG -> RGB; resize the shorter side to 256 (bilinear); centre-crop 224x224;
subtract the channel means R 123.68, G 116.779, B 103.939; reorder to BGR.

The resize is written out in numpy (separable, half-pixel centres, float64 element-wise
operations only), so it gives the same bits on every machine; only the JPEG decoder's own
output may differ between libjpeg versions. PNG decoding is exact everywhere.
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from .decoding import decode

RESIZE_SHORTER_SIDE = 256
CROP = 224
MEANS_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


def preprocess(rgb: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """uint8 RGB [H, W, 3] -> float32 BGR [224, 224, 3], mean-subtracted."""
    height, width, _ = rgb.shape
    scale = RESIZE_SHORTER_SIDE / min(height, width)
    out_h = max(RESIZE_SHORTER_SIDE, int(round(height * scale)))
    out_w = max(RESIZE_SHORTER_SIDE, int(round(width * scale)))
    top, left = (out_h - CROP) // 2, (out_w - CROP) // 2
    # Only the rows and columns the crop keeps are interpolated.
    rows0, rows1, row_w = _bilinear_taps(height, out_h, top, CROP)
    cols0, cols1, col_w = _bilinear_taps(width, out_w, left, CROP)
    # Gather the needed rows from the uint8 image before converting: float64 copies stay
    # 224 rows high whatever the image's size.
    vertical = (rgb[rows0].astype(np.float64) * (1.0 - row_w)[:, None, None]
                + rgb[rows1].astype(np.float64) * row_w[:, None, None])
    both = vertical[:, cols0] * (1.0 - col_w)[None, :, None] + vertical[:, cols1] * col_w[None, :, None]
    normalized = both.astype(np.float32) - MEANS_RGB
    return np.ascontiguousarray(normalized[:, :, ::-1])


def _bilinear_taps(in_size: int, out_size: int, start: int,
                   count: int) -> Tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    positions = (np.arange(start, start + count, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    positions = np.clip(positions, 0.0, in_size - 1)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, positions - lower


def image_to_input(data: bytes) -> np.ndarray[Any, Any]:
    """JPEG/PNG bytes -> the featurizer's input (``decoding.decode`` says what is accepted)."""
    return preprocess(decode(data))
