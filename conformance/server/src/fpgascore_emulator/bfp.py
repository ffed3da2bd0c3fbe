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

from typing import Any

import numpy as np

MANTISSA_BITS = 5
_FLOAT32_EXACT_LIMIT = 2**24  # every integer of magnitude up to here is exact in float32


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


def sum_rows_exact(mantissas: np.ndarray[Any, Any], exponents: np.ndarray[Any, Any],
                   span: int = 24) -> tuple[np.ndarray[Any, Any], int]:
    """Sums the rows of a row-blocked BFP matrix exactly, in integer arithmetic.

    Rows whose exponent is more than ``span`` below the largest one are flushed to zero
    (as a fixed-width hardware accumulator would). Returns ``(integer sums, exponent)``.
    """
    top = int(exponents.max()) if exponents.size else 0
    floor = top - span
    shifts = np.where(exponents >= floor, exponents - floor, -1).astype(np.int64)
    kept = shifts >= 0
    scaled = mantissas[kept].astype(np.int64) << shifts[kept][:, None]
    return scaled.sum(axis=0), floor
