"""CPU pre-processing, as the scoring service did it before the FPGA:
decode JPEG/PNG -> RGB; resize the shorter side to 256 (bilinear); centre-crop 224x224;
subtract the channel means R 123.68, G 116.779, B 103.939; reorder to BGR.

The resize is written out in numpy (separable, half-pixel centres, float64 element-wise
operations only), so it gives the same bits on every machine; only the JPEG decoder's own
output may differ between libjpeg versions. PNG decoding is exact everywhere.

Each output value is, exactly as first written (``tests/server/reference_model.py`` keeps that
version; the tests compare the two bit for bit):

    vertical = float64(top) * (1 - row weight) + float64(bottom) * row weight
    value    = float32(vertical[left] * (1 - column weight) + vertical[right] * column weight) - mean

What makes it cheaper without changing one operation on one value: the taps of an image size
are computed once (``_plan``, cached); only the source rows and columns the crop reads are
touched, the channels are reordered to BGR on the uint8 pixels (reordering commutes with
element-wise arithmetic), and the float64 work runs over blocks of output rows whose
temporaries stay small (under the allocator's mmap threshold, see ``memory``) and in cache.
Where the native kernels are built (``kernels``), C does the same operations on the same taps.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Optional, Tuple, Union

import numpy as np

from . import kernels as native
from .decoding import decode

RESIZE_SHORTER_SIDE = 256
CROP = 224
MEANS_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)
# One output row of BGR means, to subtract from rows of [224 * 3] values (a broadcast over the
# last axis of 3 is several times slower in numpy).
_MEANS_BGR_ROW = np.tile(MEANS_RGB[::-1], CROP)
# float64 bytes per block of output rows: each temporary stays well under 1 MiB.
_BLOCK_BYTES = 512 * 1024
_BGR = np.array([2, 1, 0])


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Where one image size's 224x224 crop reads its pixels, and with which weights."""
    rows0: np.ndarray[Any, Any]          # [224] upper source row of each output row
    rows1: np.ndarray[Any, Any]          # [224] lower source row
    row_keep: np.ndarray[Any, Any]       # [224, 1] float64 1 - row weight
    row_take: np.ndarray[Any, Any]       # [224, 1] float64 row weight
    columns: Union[slice, np.ndarray[Any, Any]]   # the (column, channel) values of a source row read
    left: np.ndarray[Any, Any]           # [224 * 3] BGR (column, channel) of the left tap, into the read values
    right: np.ndarray[Any, Any]          # [224 * 3] likewise the right tap
    column_keep: np.ndarray[Any, Any]    # [1, 224 * 3] float64 1 - column weight
    column_take: np.ndarray[Any, Any]    # [1, 224 * 3] float64 column weight
    block: int                           # output rows per block
    # the read values as the native kernel takes them (derived from columns, once per size)
    read_values: Optional[np.ndarray[Any, Any]]  # the (column, channel) values of a row read; None:
    read_first: int                      # read_count of them from read_first on (the slice)
    read_count: int


def preprocess(rgb: np.ndarray[Any, Any], kernels: Any = native.LOADED) -> np.ndarray[Any, Any]:
    """uint8 RGB [H, W, 3] -> float32 BGR [224, 224, 3], mean-subtracted; with the native
    kernels where they are loaded (``kernels``: a ``kernels.Kernels``, or None for numpy)."""
    height, width, channels = rgb.shape
    if channels != 3:
        raise ValueError(f"pre-processing needs RGB pixels [H, W, 3], got {list(rgb.shape)}")
    plan = _plan(height, width)
    out = np.empty((CROP, CROP, 3), dtype=np.float32)
    kernels = native.chosen(kernels)
    if kernels is not None and kernels.preprocess(np.ascontiguousarray(rgb, dtype=np.uint8), plan, _MEANS_BGR_ROW,
                                                  out):
        return out
    source = rgb.reshape(height, width * 3)
    rows = out.reshape(CROP, CROP * 3)
    for start in range(0, CROP, plan.block):
        end = start + plan.block
        if isinstance(plan.columns, slice):
            top, bottom = source[plan.rows0[start:end], plan.columns], source[plan.rows1[start:end], plan.columns]
        else:
            top, bottom = source[plan.rows0[start:end]][:, plan.columns], source[plan.rows1[start:end]][:, plan.columns]
        # uint8 -> float64 first, then in-place products: a ufunc that casts its input as it goes
        # runs through numpy's buffered loop, ~10 % slower for the same values (measured here).
        vertical = top.astype(np.float64)
        vertical *= plan.row_keep[start:end]
        lower = bottom.astype(np.float64)
        lower *= plan.row_take[start:end]
        vertical += lower
        both = np.take(vertical, plan.left, axis=1)
        both *= plan.column_keep
        right = np.take(vertical, plan.right, axis=1)
        right *= plan.column_take
        both += right
        np.copyto(rows[start:end], both, casting="same_kind")  # float64 -> float32, rounded to nearest
    rows -= _MEANS_BGR_ROW
    return out


@functools.lru_cache(maxsize=256)
def _plan(height: int, width: int) -> _Plan:
    scale = RESIZE_SHORTER_SIDE / min(height, width)
    out_h = max(RESIZE_SHORTER_SIDE, int(round(height * scale)))
    out_w = max(RESIZE_SHORTER_SIDE, int(round(width * scale)))
    top, left = (out_h - CROP) // 2, (out_w - CROP) // 2
    # Only the rows and columns the crop keeps are interpolated.
    rows0, rows1, row_w = _bilinear_taps(height, out_h, top, CROP)
    cols0, cols1, col_w = _bilinear_taps(width, out_w, left, CROP)
    needed = np.unique(np.concatenate([cols0, cols1]))
    first, last = int(needed[0]), int(needed[-1])
    columns: Union[slice, np.ndarray[Any, Any]]
    if last - first + 1 <= 2 * len(needed):  # nearly every column in the span: a slice, no gather
        read = np.arange(first, last + 1)
        columns = slice(3 * first, 3 * (last + 1))
    else:  # a large image: gather only the columns read
        read = needed
        columns = (needed[:, None] * 3 + np.arange(3)[None, :]).ravel()
    position = np.searchsorted(read, np.arange(width)).clip(0, len(read) - 1)
    taps_left = (position[cols0][:, None] * 3 + _BGR[None, :]).ravel()
    taps_right = (position[cols1][:, None] * 3 + _BGR[None, :]).ravel()
    weights = np.repeat(col_w, 3)[None, :]
    block = max(1, min(CROP, _BLOCK_BYTES // (8 * 3 * max(len(read), CROP))))
    if isinstance(columns, slice):
        read_values, read_first, read_count = None, int(columns.start), int(columns.stop - columns.start)
    else:
        read_values, read_first, read_count = np.ascontiguousarray(columns, dtype=np.int64), 0, len(columns)
    return _Plan(rows0, rows1, (1.0 - row_w)[:, None], row_w[:, None], columns, taps_left, taps_right,
                 1.0 - weights, weights, block, read_values, read_first, read_count)


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
