"""Block floating point: the exactness the emulator's bit-for-bit determinism rests on."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgascore_emulator import bfp


def integer_product(a_mantissas, a_exponents, b_mantissas, b_exponents) -> np.ndarray:
    """The reference: integer arithmetic, then an exact power-of-two scaling per element."""
    products = a_mantissas.astype(np.int64) @ b_mantissas.astype(np.int64)
    return np.ldexp(products.astype(np.float64), (a_exponents[:, None] + b_exponents[None, :]).astype(np.int64))


@pytest.mark.parametrize("k, expected", [(192, np.float32), (512, np.float32), (17_000, np.float32),
                                         (17_500, np.float64)])
def test_product_dtype_is_float32_only_while_every_sum_stays_below_2_to_the_24(k, expected):
    assert bfp.product_dtype(k) is expected


def test_float32_products_at_the_largest_mantissas_equal_the_integer_products():
    k, limit = 512, 2**bfp.MANTISSA_BITS - 1
    rng = np.random.default_rng(1)
    a = rng.choice([-limit, limit], size=(64, k)).astype(np.float64)
    a[0] = limit  # one row whose sum reaches k * limit**2
    b = np.full((k, 8), float(limit))
    a_exp, b_exp = rng.integers(-30, 30, 64).astype(np.float64), rng.integers(-30, 30, 8).astype(np.float64)
    exact = integer_product(a, a_exp, b, b_exp)
    fast = bfp.matmul(a.astype(np.float32), a_exp, b.astype(np.float32), b_exp)
    assert fast.dtype == np.float64
    assert np.array_equal(fast, exact)
    assert exact[0, 0] == np.ldexp(float(k * limit * limit), int(a_exp[0] + b_exp[0]))


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), k=st.integers(1, 300), cols=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-6, 1.0, 255.0, 1e6]))
def test_quantized_product_is_exact_in_float32_and_float64(rows, k, cols, seed, scale):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((rows, k)) * scale
    weights = rng.standard_normal((k, cols))
    a64, a_exp = bfp.quantize_rows(values)
    a32, a_exp32 = bfp.quantize_rows(values, dtype=np.float32)
    b64, b_exp = bfp.quantize_columns(weights)
    b32, _ = bfp.quantize_columns(weights, dtype=np.float32)
    assert a32.dtype == np.float32 and np.array_equal(a32, a64) and np.array_equal(a_exp32, a_exp)
    exact = integer_product(a64, a_exp, b64, b_exp)
    assert np.array_equal(bfp.matmul(a64, a_exp, b64, b_exp), exact)
    assert np.array_equal(bfp.matmul(a32, a_exp, b32, b_exp), exact)


def test_quantize_rows_keeps_five_mantissa_bits_rounding_ties_to_even():
    mantissas, exponents = bfp.quantize_rows(np.array([[31.0, 2.5, -3.5, 0.25], [0.0, 0.0, 0.0, 0.0]]))
    # 31 has its top bit at 2**4: exponent 5 - 5 = 0, so values are rounded to integers.
    assert exponents.tolist() == [0.0, 0.0]
    assert mantissas.tolist() == [[31.0, 2.0, -4.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_quantize_rows_scales_each_row_by_its_own_power_of_two():
    mantissas, exponents = bfp.quantize_rows(np.array([[1000.0, 1.0], [0.001, -0.0005]]))
    assert np.all(np.abs(mantissas) <= 31)
    assert exponents.tolist() == [5.0, -14.0]
    assert np.allclose(np.ldexp(mantissas, exponents.astype(int)[:, None]), [[992.0, 0.0], [0.001, -0.0005]],
                       rtol=1 / 16, atol=0)
