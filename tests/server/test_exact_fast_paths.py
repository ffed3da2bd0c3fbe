"""The numpy pre-processing and the featurizer's float32 path give the same bits as the model as
first written (``reference_model``), on images of every shape, not only the golden ones, and
on float inputs of every scale (those outside float32's safe range take the float64 path).
The native kernels are off here (``kernels=None``); test_native_kernels checks them."""
import numpy as np
import pytest

from fpgascore_emulator import bfp, network, preprocess

from . import reference_model as reference
from .rpc import decodable_images, same_bits

FEATURIZER = network.Featurizer(kernels=None)
SHAPES = [(1, 1), (1, 700), (700, 1), (2, 3), (48, 64), (255, 256), (256, 255), (224, 224), (380, 400),
          (3000, 4000), (4000, 300), (300, 5000)]


@pytest.mark.parametrize("shape", SHAPES + [tuple(int(v) for v in np.random.default_rng(seed).integers(1, 1200, 2))
                                            for seed in range(12)])
def test_preprocessing_and_features_are_bit_identical_to_the_reference(shape):
    rng = np.random.default_rng(shape[0] * 7919 + shape[1])
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = reference.preprocess(rgb)
    got = preprocess.preprocess(rgb, kernels=None)
    assert same_bits(got, expected)
    assert FEATURIZER._pooled_float32(got) is not None  # the fast path is the one taken
    assert same_bits(FEATURIZER(got), reference.featurize(FEATURIZER, expected))


def test_every_test_image_is_bit_identical_to_the_reference():
    checked = 0
    for name, rgb in decodable_images():
        x = preprocess.preprocess(rgb, kernels=None)
        assert same_bits(x, reference.preprocess(rgb)), name
        assert same_bits(FEATURIZER(x), reference.featurize(FEATURIZER, x)), name
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("scale", [1e-38, 1e-25, 1e-12, 1e-3, 1.0, 255.0, 1e4, 1e12, 1e25, 1e37])
@pytest.mark.parametrize("kind", ["normal", "positive", "sparse"])
def test_float_inputs_of_every_scale_give_the_reference_features(scale, kind):
    rng = np.random.default_rng(int(np.log10(scale)) + 100)
    if kind == "normal":
        x = rng.standard_normal((224, 224, 3)) * scale
    else:
        x = rng.random((224, 224, 3)) * scale
    if kind == "sparse":
        x[rng.random(x.shape) < 0.95] = 0.0
    x = x.astype(np.float32)
    assert np.isfinite(x).all()
    with np.errstate(over="ignore"):  # the reference's features overflow float32 at the largest scales
        assert same_bits(FEATURIZER(x), reference.featurize(FEATURIZER, x))


def test_the_float32_path_declines_exponents_outside_its_safe_range():
    x = np.full((2, 4), np.float32(2.0 ** -(bfp.FLOAT32_SAFE_EXPONENT + 10)))
    assert bfp.quantize_rows_float32(x) is None
    x = np.full((2, 4), np.float32(3.0))
    mantissas, exponents = bfp.quantize_rows_float32(x)
    reference_mantissas, reference_exponents = bfp.quantize_rows(x)
    assert np.array_equal(mantissas, reference_mantissas) and np.array_equal(exponents, reference_exponents)


def test_sum_rows_exact_matches_integer_shifts():
    rng = np.random.default_rng(5)
    for _ in range(20):
        mantissas = rng.integers(-31, 32, (196, 256)).astype(np.float32)
        exponents = rng.integers(-40, 40, 196).astype(np.float64)
        sums, floor = bfp.sum_rows_exact(mantissas, exponents)
        expected, expected_floor = reference._sum_rows_exact(mantissas, exponents)
        assert floor == expected_floor and np.array_equal(sums, expected)


@pytest.mark.parametrize("b_exponent_range", [(0, 1), (-20, 20)])
def test_the_float32_product_equals_the_float64_one(b_exponent_range):
    rng = np.random.default_rng(b_exponent_range[1])
    a = rng.integers(-31, 32, (50, 192)).astype(np.float32)
    b = rng.integers(-31, 32, (192, 16)).astype(np.float32)
    a_exp = rng.integers(-30, 30, 50).astype(np.float64)
    b_exp = rng.integers(*b_exponent_range, 16).astype(np.float64)
    got = bfp.scaled_product_float32(a, a_exp, b, b_exp)
    assert got is not None and got.dtype == np.float32
    assert np.array_equal(got.astype(np.float64), bfp.matmul(a, a_exp, b, b_exp))
    assert bfp.scaled_product_float32(a, a_exp + 80, b, b_exp + 80) is None  # too close to float32's range
