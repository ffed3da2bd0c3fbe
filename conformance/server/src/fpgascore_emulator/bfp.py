"""Block floating point (BFP), the narrow number format of the emulated accelerator.

A *block* is one native vector of the accelerator (one row of a matrix here). All values of
a block share one exponent; each value keeps only a sign and a few mantissa bits:

    value = mantissa * 2**exponent,   mantissa an integer in [-(2**bits - 1), 2**bits - 1]

With ``bits = 5`` this is the "1 sign + 5 mantissa bits + shared 8-bit exponent" family of
formats that FPGA inference engines such as Microsoft's Brainwave used.

Why it makes the emulator deterministic: once both operands of a matrix product are BFP,
the product is ``(integer mantissas @ integer mantissas) * 2**(row exponent + column
exponent)``. The integer products and their sums stay far below 2**53, so a float64 BLAS
computes them *exactly*, whatever its summation order, vector width or CPU: the result is
the same bits on every machine. When every partial sum stays below 2**24 (``k * max|a| * max|b|``,
true for 5-bit mantissas up to k = 17,000), float32 is exact too and its BLAS is about twice as
fast: :func:`product_dtype` picks the narrowest exact type.

Scaling by ``2**exponent`` is a multiplication by a power of two, exact in floating point as long
as nothing overflows or becomes subnormal, which the exponents here never approach.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

MANTISSA_BITS = 5
_FLOAT32_EXACT_LIMIT = 2**24  # every integer of magnitude up to here is exact in float32
# The float32 paths below accept a block exponent only within +-FLOAT32_SAFE_EXPONENT, and a
# product's two exponents only while their sum stays within +-2 * FLOAT32_SAFE_EXPONENT - 20:
# then no value they make (an integer below 2**24 times 2**exponent) nears float32's
# overflow (2**128) or loses a bit below its smallest normal (2**-126), so every step is exact.
FLOAT32_SAFE_EXPONENT = 60


def product_dtype(k: int, a_bits: int = MANTISSA_BITS, b_bits: int = MANTISSA_BITS) -> type:
    """The narrowest float type in which a k-term dot product of a_bits x b_bits mantissas is exact."""
    largest_sum = k * (2**a_bits - 1) * (2**b_bits - 1)
    return np.float32 if largest_sum < _FLOAT32_EXACT_LIMIT else np.float64


def _powers_of_two(exponents: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """2**exponents, exactly (ldexp, not exp2, whose last bit is the math library's)."""
    return np.ldexp(1.0, np.asarray(exponents).astype(np.int64))


def quantize_rows(values: np.ndarray[Any, Any], bits: int = MANTISSA_BITS,
                  dtype: type = np.float64) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Quantizes each row of a 2-D array to BFP.

    Returns ``(mantissas, exponents)``: arrays holding integers, mantissas shaped like
    ``values`` (of ``dtype``; any float type holds them exactly) and one float64 exponent per
    row, so that ``mantissas * 2**exponents[:, None]`` approximates ``values``. Rounding is to
    nearest, ties to even; a row of zeros gets exponent 0. Non-finite values must be rejected before this point.
    """
    values = np.asarray(values, dtype=np.float64)
    largest = np.max(np.abs(values), axis=1)
    _, top_exponent = np.frexp(largest)          # largest = f * 2**e with f in [0.5, 1)
    exponents = np.where(largest > 0, top_exponent - bits, 0).astype(np.float64)
    limit = float(2**bits - 1)
    mantissas = values * _powers_of_two(-exponents)[:, None]  # exact: a power-of-two scaling
    np.rint(mantissas, out=mantissas)
    np.clip(mantissas, -limit, limit, out=mantissas)
    return mantissas.astype(dtype, copy=False), exponents


def quantize_rows_float32(values: np.ndarray[Any, Any], bits: int = MANTISSA_BITS, nonnegative: bool = False
                          ) -> Optional[Tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """:func:`quantize_rows` of a float32 matrix computed in float32, the same mantissas and
    exponents; None when an exponent is outside the range where that is exact (the caller then
    uses :func:`quantize_rows`). ``nonnegative``: no value is below zero (a ReLU's output),
    so the largest magnitude is the largest value.

    Why it is the same: the largest magnitude of a row and its binary exponent are the same in
    either type; ``values * 2**-exponent`` is a power-of-two scaling, exact in float32 within the
    range checked (a product too small for float32's normal range is below 0.5 and rounds to a
    zero of the same sign either way); rounding to an integer is the same operation. Only a
    value at or above ``2**bits - 0.5`` (scaled) can round past the limit, so only rows whose
    largest value does are clipped."""
    largest = values.max(axis=1) if nonnegative else np.abs(values).max(axis=1)
    _, top_exponent = np.frexp(largest)
    exponents = np.where(largest > 0, top_exponent - bits, 0)
    if exponents.size and (int(exponents.min()) < -FLOAT32_SAFE_EXPONENT
                           or int(exponents.max()) > FLOAT32_SAFE_EXPONENT):
        return None
    limit = np.float32(2**bits - 1)
    mantissas = values * np.ldexp(np.float32(1.0), -exponents)[:, None]
    np.rint(mantissas, out=mantissas)
    over = np.flatnonzero(np.ldexp(largest, -exponents) >= limit + np.float32(0.5))
    if over.size:
        mantissas[over] = np.clip(mantissas[over], -limit, limit)
    return mantissas, exponents.astype(np.float64)


def quantize_columns(values: np.ndarray[Any, Any], bits: int = MANTISSA_BITS,
                     dtype: type = np.float64) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Like :func:`quantize_rows`, one shared exponent per column (a weight matrix's output)."""
    mantissas, exponents = quantize_rows(np.asarray(values).T, bits, dtype)
    return np.ascontiguousarray(mantissas.T), exponents


def matmul(a_mantissas: np.ndarray[Any, Any], a_exponents: np.ndarray[Any, Any],
           b_mantissas: np.ndarray[Any, Any], b_exponents: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Exact product of a row-blocked BFP matrix and a column-blocked BFP matrix (float64).

    The mantissas' dtype is the product's: callers pass float32 only where
    :func:`product_dtype` says it is exact."""
    products = (a_mantissas @ b_mantissas).astype(np.float64)  # integers: exact in any order
    products *= _powers_of_two(a_exponents)[:, None]
    products *= _powers_of_two(b_exponents)[None, :]
    result: np.ndarray[Any, Any] = products
    return result


def scaled_product_float32(a_mantissas: np.ndarray[Any, Any], a_exponents: np.ndarray[Any, Any],
                           b_mantissas: np.ndarray[Any, Any],
                           b_exponents: np.ndarray[Any, Any]) -> Optional[np.ndarray[Any, Any]]:
    """:func:`matmul` with a float32 result, the same values; None when the exponents are
    outside the range where float32 holds them exactly. The mantissas must be float32 and
    their products exact in it (:func:`product_dtype`)."""
    if a_mantissas.dtype != np.float32 or b_mantissas.dtype != np.float32:
        return None
    bound = 2 * FLOAT32_SAFE_EXPONENT - 20
    a_low, a_high = (int(a_exponents.min()), int(a_exponents.max())) if a_exponents.size else (0, 0)
    b_low, b_high = (int(b_exponents.min()), int(b_exponents.max())) if b_exponents.size else (0, 0)
    if max(abs(a_low), abs(a_high), abs(b_low), abs(b_high)) > FLOAT32_SAFE_EXPONENT \
            or a_high + b_high > bound or a_low + b_low < -bound:
        return None
    products: np.ndarray[Any, Any] = a_mantissas @ b_mantissas  # integers below 2**24: exact
    products *= np.ldexp(np.float32(1.0), a_exponents.astype(np.int32))[:, None]
    if b_high or b_low:  # a weight matrix of exponents 0 (the network's) scales by 1: skipped
        products *= np.ldexp(np.float32(1.0), b_exponents.astype(np.int32))[None, :]
    return products


def sum_rows_exact(mantissas: np.ndarray[Any, Any], exponents: np.ndarray[Any, Any],
                   span: int = 24) -> tuple[np.ndarray[Any, Any], int]:
    """Sums the rows of a row-blocked BFP matrix exactly, in integer arithmetic.

    Rows whose exponent is more than ``span`` below the largest one are flushed to zero
    (as a fixed-width hardware accumulator would). Returns ``(integer sums, exponent)``.
    """
    top = int(exponents.max()) if exponents.size else 0
    floor = top - span
    shifts = np.where(exponents >= floor, exponents - floor, -1).astype(np.int64)
    if mantissas.size and float(np.abs(mantissas).max()) * 2.0**span * len(mantissas) < 2.0**53:
        # As one float64 product: each term is an integer times a power of two and every
        # partial sum an integer below 2**53, so BLAS's sum is exact in any order.
        weights = np.where(shifts >= 0, np.ldexp(1.0, shifts), 0.0)
        sums: np.ndarray[Any, Any] = (weights @ mantissas.astype(np.float64)).astype(np.int64)
        return sums, floor
    kept = shifts >= 0
    scaled = mantissas[kept].astype(np.int64) << shifts[kept][:, None]
    return scaled.sum(axis=0), floor
