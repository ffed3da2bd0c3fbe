"""The native kernels (fpgascore_emulator/native/kernels.c) give the same bits as the model as
first written (``reference_model``) and as the numpy classifier, with each integer product
variant this CPU has, on images of every shape, every test image, float inputs of every scale
and batches; the loader refuses a library built from another source; the server says which
code computes its model."""
import dataclasses
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig
from fpgascore_emulator import kernels, network, preprocess

from . import reference_model as reference
from .rpc import ROOT, decodable_images, same_bits

VARIANTS = ["avx512vnni", "avx2", "portable"]
NUMPY_FEATURIZER = network.Featurizer(kernels=None)
NUMPY_CLASSIFIER = network.Classifier(kernels=None)
SHAPES = [(1, 1), (1, 700), (700, 1), (2, 3), (48, 64), (255, 256), (224, 224), (380, 400), (3000, 4000),
          (300, 5000)] + [tuple(int(v) for v in np.random.default_rng(seed).integers(1, 1200, 2)) for seed in range(6)]


@pytest.fixture(scope="module")
def native() -> kernels.Kernels:
    loaded = kernels.load()
    assert loaded is not None, f"the native kernels do not load here: {kernels.status()}"
    return loaded


@pytest.fixture(params=VARIANTS)
def variant(request, native):
    best = native.variant()
    if not native.use_variant(request.param):
        pytest.skip(f"this CPU or build has no {request.param} kernel")
    assert native.variant() == request.param
    yield native
    assert native.use_variant(best)


@pytest.fixture
def model(variant):
    return network.Featurizer(kernels=variant), network.Classifier(kernels=variant)


@pytest.mark.parametrize("shape", SHAPES)
def test_random_images_of_every_shape_give_the_reference_bits(variant, model, shape):
    featurizer, classifier = model
    rgb = np.random.default_rng(shape[0] * 7919 + shape[1]).integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = reference.preprocess(rgb)
    got = preprocess.preprocess(rgb, kernels=variant)
    assert same_bits(got, expected)
    features = featurizer(got)
    assert same_bits(features, reference.featurize(featurizer, expected))
    assert same_bits(classifier(features[None, :]), NUMPY_CLASSIFIER(features[None, :]))


def test_every_test_image_gives_the_reference_bits(variant, model):
    featurizer, classifier = model
    checked = 0
    for name, rgb in decodable_images():
        x = preprocess.preprocess(rgb, kernels=variant)
        assert same_bits(x, reference.preprocess(rgb)), name
        features = featurizer(x)
        assert same_bits(features, reference.featurize(featurizer, x)), name
        assert same_bits(classifier(features[None, :]), NUMPY_CLASSIFIER(features[None, :])), name
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("scale", [1e-38, 1e-12, 1.0, 255.0, 1e12, 1e37])
@pytest.mark.parametrize("kind", ["normal", "sparse"])
def test_float_inputs_of_every_scale_give_the_reference_bits(variant, model, scale, kind):
    """Inputs outside the float32 range the kernel handles are declined, to the numpy path."""
    featurizer, classifier = model
    rng = np.random.default_rng(int(np.log10(scale)) + 200)
    x = rng.standard_normal((224, 224, 3)) * scale
    if kind == "sparse":
        x[rng.random(x.shape) < 0.95] = 0.0
    x = x.astype(np.float32)
    with np.errstate(over="ignore"):  # the features overflow float32 at the largest scales
        expected = reference.featurize(featurizer, x)
        features = featurizer(x)
        assert same_bits(features, expected)
        assert same_bits(classifier(features[None, :]), NUMPY_CLASSIFIER(features[None, :]))


def test_regions_spanning_2_to_the_40_in_scale_pool_as_the_reference(variant, model):
    """Each 16 x 16 region (one row of the second layer's output) scaled by 2**-(0..39): rows of
    block exponents 40 apart, some flushed by the pool's exact sum (24 below the top one)."""
    featurizer, _ = model
    x = np.random.default_rng(17).standard_normal((224, 224, 3))
    for region in range(196):
        row, column = divmod(region, 14)
        x[16 * row:16 * (row + 1), 16 * column:16 * (column + 1)] *= 2.0 ** -(region % 40)
    x = x.astype(np.float32)
    assert NUMPY_FEATURIZER._pooled_float32(x) is not None  # within the float32 path's range
    assert same_bits(featurizer(x), reference.featurize(featurizer, x))


def test_the_kernel_declines_where_the_numpy_float32_path_does(native):
    tiny = np.full((224, 224, 3), np.float32(1e-38))
    assert NUMPY_FEATURIZER._pooled_float32(tiny) is None
    assert native.featurize(tiny, *NUMPY_FEATURIZER._pairs) is None
    ordinary = np.random.default_rng(3).standard_normal((224, 224, 3)).astype(np.float32)
    assert native.featurize(ordinary, *NUMPY_FEATURIZER._pairs) is not None


def test_the_featurizer_runs_numpy_where_the_cpu_has_only_the_portable_kernel(native):
    """BLAS's float32 products beat the portable integer kernel: a server's featurizer (the
    loaded kernels) takes numpy then; kernels given explicitly (these tests) are used."""
    best = native.variant()
    try:
        assert network.Featurizer()._native is native
        assert native.use_variant("portable")
        assert network.Featurizer()._native is None
        assert network.Featurizer(kernels=native)._native is native
    finally:
        assert native.use_variant(best)


def test_pre_processing_declines_a_plan_reading_more_than_its_buffer(native):
    """The kernel's row buffer holds what every plan reads; a plan that read more (none does)
    is declined, not overrun."""
    rgb = np.zeros((380, 400, 3), dtype=np.uint8)
    plan = preprocess._plan(380, 400)
    out = np.empty((224, 224, 3), dtype=np.float32)
    assert native.preprocess(rgb, plan, preprocess._MEANS_BGR_ROW, out)
    assert not native.preprocess(rgb, dataclasses.replace(plan, read_count=2 * 2 * 224 * 3 + 1),
                                 preprocess._MEANS_BGR_ROW, out)


def test_a_batch_of_features_scores_as_numpy_does(model):
    """Rows of zeros, of one value, of every scale, and the features of real images, in one batch."""
    _, classifier = model
    rng = np.random.default_rng(11)
    rows = [np.zeros(2048), np.full(2048, 3.0), rng.random(2048) * 1e-30, rng.random(2048) * 1e30,
            np.maximum(rng.standard_normal(2048), 0.0) * 40.0]
    rows += [NUMPY_FEATURIZER(preprocess.preprocess(rng.integers(0, 256, (90 + i, 120, 3), dtype=np.uint8),
                                                    kernels=None)) for i in range(4)]
    batch = np.stack(rows).astype(np.float32)
    got = classifier(batch)
    assert got.shape == (len(rows), 1000)
    assert same_bits(got, NUMPY_CLASSIFIER(batch))


def test_inputs_of_another_shape_are_refused_before_the_kernels_read_them(model, variant):
    featurizer, classifier = model
    with pytest.raises(ValueError, match=r"RGB pixels \[H, W, 3\], got \[40, 30, 4\]"):
        preprocess.preprocess(np.zeros((40, 30, 4), dtype=np.uint8), kernels=variant)
    with pytest.raises(ValueError, match=r"\[224, 224, 3\], got \[224, 224, 4\]"):
        featurizer(np.zeros((224, 224, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[N, 2048\], got \[2, 1000\]"):
        classifier(np.zeros((2, 1000), dtype=np.float32))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> pathlib.Path:
    """A library built here by the build script, from the source in the tree."""
    out = tmp_path_factory.mktemp("kernels") / "_kernels.so"
    subprocess.run([str(ROOT / "scripts" / "build-kernels.sh"), str(out)], check=True, capture_output=True)
    return out


def test_the_loader_uses_a_library_built_from_the_source_beside_it(built):
    loaded, status = kernels.load_from(built, kernels.SOURCE)
    assert loaded is not None and status.startswith("native (")


def test_the_loader_refuses_a_library_built_from_another_source(built, tmp_path):
    changed = tmp_path / "kernels.c"
    changed.write_bytes(kernels.SOURCE.read_bytes() + b"\n/* changed */\n")
    loaded, status = kernels.load_from(built, changed)
    assert loaded is None
    assert status == "numpy (the native kernels were built from another kernels.c: build them with " \
                     "scripts/build-kernels.sh)"


def test_the_loader_says_what_is_missing_or_broken(tmp_path):
    loaded, status = kernels.load_from(tmp_path / "_kernels.so", kernels.SOURCE)
    assert loaded is None and status.startswith("numpy (the native kernels are not built")
    not_a_library = tmp_path / "broken.so"
    not_a_library.write_text("not ELF")
    loaded, status = kernels.load_from(not_a_library, kernels.SOURCE)
    assert loaded is None and status.startswith("numpy (the native kernels do not load: OSError")


def test_the_build_fails_with_fast_math(tmp_path):
    """-ffast-math would change the bits: the source refuses to build with it."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing (scripts/setup.sh installs it)")
    result = subprocess.run(["gcc", "-O2", "-ffast-math", "-fPIC", "-shared", "-o", str(tmp_path / "k.so"),
                             str(kernels.SOURCE)], capture_output=True, text=True)
    assert result.returncode != 0 and "without -ffast-math" in result.stderr


def listening_event(extra_env: dict) -> dict:
    with EmulatorProcess(ServerConfig(extra_env=extra_env)) as server:
        lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return next(line for line in lines if line.get("event") == "listening")


def test_the_server_logs_which_code_computes_the_model(native):
    assert listening_event({})["kernels"] == kernels.status() == f"native ({native.variant()})"
    assert listening_event({kernels.DISABLE_VARIABLE: "0"})["kernels"] == \
        "numpy (native kernels turned off by FPGASCORE_NATIVE_KERNELS=0)"
    assert listening_event({"FPGASCORE_NULL_MODEL": "1"})["kernels"] == "none"
