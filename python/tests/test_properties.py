"""Property tests (hypothesis): tensor encoding round trips, retry sleeps within bounds."""
from __future__ import annotations

import random

import grpc
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fpgascore
from fpgascore import _retry
from fpgascore.v1 import predict_pb2

pytestmark = pytest.mark.timeout(60)

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.dtype(">f4")]), shape=shapes,
                  elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_float_tensor_round_trip(array):
    response = predict_pb2.PredictResponse()
    response.outputs["output_alias"].CopyFrom(fpgascore.float_tensor(array))
    decoded = fpgascore.decode_scores(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
    assert decoded.shape == array.shape and decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, array.astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=np.float32, shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                  elements=st.floats(width=32)))
def test_decoding_refuses_exactly_the_non_finite_scores_and_names_the_first(array):
    response = predict_pb2.PredictResponse()
    response.outputs["output_alias"].CopyFrom(fpgascore.float_tensor(array))
    bad = np.argwhere(~np.isfinite(array))
    if not len(bad):
        np.testing.assert_array_equal(fpgascore.decode_scores(response), array)
        return
    with pytest.raises(fpgascore.NonFiniteScoreError) as raised:
        fpgascore.decode_scores(response, rows=array.shape[0], columns=array.shape[1])
    assert (raised.value.image_index, raised.value.class_index) == tuple(bad[0])
    assert f"({len(bad)} of {array.size} scores are not finite)" in raised.value.details


def test_huge_finite_scores_are_returned_though_their_squares_overflow():
    # The finiteness check's fast path (a dot product) overflows to +Inf here: every value is finite.
    array = np.full((2, 1000), np.finfo(np.float32).max, dtype=np.float32)
    array[1] *= -1
    response = predict_pb2.PredictResponse()
    response.outputs["output_alias"].CopyFrom(fpgascore.float_tensor(array))
    np.testing.assert_array_equal(fpgascore.decode_scores(response, rows=2, columns=1000), array)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8))
def test_image_tensor_keeps_bytes_untouched(images):
    tensor = fpgascore.image_tensor(images)
    assert list(tensor.string_val) == images and tensor.tensor_shape.dim[0].size == len(images)


@settings(max_examples=100, deadline=None)
@given(initial=st.floats(0.001, 1.0), multiplier=st.floats(1.0, 4.0), cap=st.floats(1.0, 5.0),
       attempts=st.integers(2, 8), seed=st.integers(0, 2 ** 32 - 1))
def test_sleeps_stay_within_full_jitter_bounds(initial, multiplier, cap, attempts, seed):
    policy = fpgascore.RetryPolicy(max_attempts=attempts, initial_backoff=initial, max_backoff=max(cap, initial),
                                   multiplier=multiplier)
    planner = _retry.RetryPlanner(policy, deadline=1e9, clock=lambda: 0.0, rng=random.Random(seed))
    for made in range(1, attempts):
        sleep = planner.next_sleep(grpc.StatusCode.UNAVAILABLE, (), made)
        bound = min(policy.max_backoff, initial * multiplier ** (made - 1))
        assert sleep is not None and 0.0 <= sleep <= bound + 1e-12
    assert planner.next_sleep(grpc.StatusCode.UNAVAILABLE, (), attempts) is None
