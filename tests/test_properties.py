"""Invariants on random small codes (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.bounds import rank_lower_bounds


@st.composite
def codes_and_masks(draw):
    n = draw(st.integers(2, 9))
    k = draw(st.integers(1, 6))
    ell = draw(st.integers(1, 3))
    load = draw(st.integers(1, k))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A = np.zeros((n, k), dtype=np.int64)
    for j in range(n):
        A[j, rng.choice(k, size=load, replace=False)] = 1
    kind = draw(st.sampled_from(["gaussian", "integer", "stacking"]))
    if kind == "stacking":
        code = agc.encodings.stacking(A, ell)
    else:
        values = rng.standard_normal((n, k * ell)) if kind == "gaussian" else rng.integers(-2, 3, (n, k * ell))
        code = agc.Code(np.tile(A, (1, ell)) * values, A, ell)
    masks = rng.random((6, n)) < draw(st.floats(0.0, 1.0))
    return code, masks


@settings(max_examples=150, deadline=None)
@given(codes_and_masks())
def test_rank_bound_below_error_below_maximum(case):
    code, masks = case
    errors = agc.optimal_errors(code, masks)
    assert np.all(rank_lower_bounds(code, masks) <= errors + 1e-9)
    assert np.all((errors >= 0) & (errors <= code.k * code.ell))


@settings(max_examples=150, deadline=None)
@given(codes_and_masks())
def test_batched_equals_single(case):
    code, masks = case
    single = np.array([agc.optimal_error(code, m) for m in masks])
    np.testing.assert_allclose(agc.optimal_errors(code, masks), single, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(codes_and_masks(), st.integers(0, 100))
def test_removing_a_survivor_never_lowers_the_error(case, pick):
    code, masks = case
    mask = masks[0]
    if not mask.any():
        return
    smaller = mask.copy()
    smaller[np.flatnonzero(mask)[pick % mask.sum()]] = False
    before, after = agc.optimal_errors(code, np.array([mask, smaller]))
    assert after >= before - 1e-9


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_seeds_reproduce_bit_for_bit(seed):
    a = agc.failures.bernoulli_masks(7, 0.3, 20, seed=seed)
    b = agc.failures.bernoulli_masks(7, 0.3, 20, seed=seed)
    assert np.array_equal(a, b)
    assert np.array_equal(agc.failures.fixed_masks(7, 2, 20, seed=seed), agc.failures.fixed_masks(7, 2, 20, seed=seed))
