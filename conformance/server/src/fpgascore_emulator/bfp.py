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
the same bits on every machine.
"""
from __future__ import annotations

import numpy as np

MANTISSA_BITS = 5


def quantize_rows(values: np.ndarray, bits: int = MANTISSA_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Quantizes each row of a 2-D array to BFP.

    Returns ``(mantissas, exponents)``: float64 arrays holding integers, mantissas shaped
    like ``values`` and one exponent per row, so that ``mantissas * 2**exponents[:, None]``
    approximates ``values``. Rounding is to nearest, ties to even; a row of zeros gets
    exponent 0. Non-finite values must be rejected before this point.
    """
    values = np.asarray(values, dtype=np.float64)
    largest = np.max(np.abs(values), axis=1)
    _, top_exponent = np.frexp(largest)          # largest = f * 2**e with f in [0.5, 1)
    exponents = np.where(largest > 0, top_exponent - bits, 0).astype(np.float64)
    limit = float(2**bits - 1)
    mantissas = np.clip(np.rint(np.ldexp(values, -exponents.astype(np.int64)[:, None])), -limit, limit)
    return mantissas, exponents


def quantize_columns(values: np.ndarray, bits: int = MANTISSA_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`quantize_rows`, one shared exponent per column (a weight matrix's output)."""
    mantissas, exponents = quantize_rows(np.asarray(values).T, bits)
    return np.ascontiguousarray(mantissas.T), exponents


def matmul(a_mantissas: np.ndarray, a_exponents: np.ndarray,
           b_mantissas: np.ndarray, b_exponents: np.ndarray) -> np.ndarray:
    """Exact product of a row-blocked BFP matrix and a column-blocked BFP matrix (float64)."""
    products = a_mantissas @ b_mantissas  # integers < 2**53: exact in any order
    return np.ldexp(products, (a_exponents[:, None] + b_exponents[None, :]).astype(np.int64))


def sum_rows_exact(mantissas: np.ndarray, exponents: np.ndarray, span: int = 24) -> tuple[np.ndarray, int]:
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
