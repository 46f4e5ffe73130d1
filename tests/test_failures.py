"""Failure models (``agc.failures``): heterogeneous Bernoulli masks and bursty two-state Markov masks.

Every measured quantity is compared with the parameter by a z-test on independent samples, and the
same test is shown to reject a nearby wrong value (power).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.failures import (
    FailureModel,
    bernoulli_masks,
    failure_probabilities,
    markov_masks,
    markov_transitions,
)
from agc.stats import z_scores


def burst_lengths(down):
    """Lengths of the complete runs of ``True`` in each column (runs cut by either end are dropped)."""
    lengths = []
    for column in down.T:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], column.astype(np.int8), [0]])))
        starts, ends = edges[::2], edges[1::2]
        inside = (starts > 0) & (ends < column.size)
        lengths.extend((ends - starts)[inside].tolist())
    return np.array(lengths)


def rate_z(samples, p):
    """z-scores of per-worker failure frequencies of independent masks against ``p``."""
    return z_scores((~samples).astype(float), p)


# --- heterogeneous Bernoulli failures -----------------------------------------------------------


def test_heterogeneous_masks_have_each_workers_rate():
    p = np.linspace(0.0, 0.6, 7)
    masks = bernoulli_masks(7, p, 20000, seed=3)
    frequencies = 1.0 - masks.mean(axis=0)
    se = np.sqrt(np.maximum(p * (1 - p), 1e-300) / masks.shape[0])
    assert frequencies[0] == 0.0  # p = 0: never absent
    assert np.all(np.abs(frequencies - p)[1:] <= 4 * se[1:])
    assert np.all(np.abs(frequencies - p[::-1])[[0, 1, 2, 4, 5, 6]] > 10 * se[[0, 1, 2, 4, 5, 6]])  # power
    columns = (~masks).astype(float)
    correlation = np.corrcoef(columns[:, 1:].T)[np.triu_indices(6, 1)]
    assert np.all(np.abs(correlation) <= 4 / math.sqrt(masks.shape[0]))  # workers independent


def test_a_common_p_is_the_vector_of_it_with_the_same_seed():
    np.testing.assert_array_equal(bernoulli_masks(9, 0.3, 50, seed=4), bernoulli_masks(9, np.full(9, 0.3), 50, seed=4))
    masks, weights = agc.failures.bernoulli_enumeration(6, 0.3)
    s = 6 - masks.sum(axis=1)
    np.testing.assert_allclose(weights, 0.3**s * 0.7 ** (6 - s), rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(p=st.lists(st.floats(0.0, 0.95), min_size=1, max_size=8))
def test_enumeration_weights_are_the_product_of_the_marginals(p):
    n = len(p)
    masks, weights = agc.failures.bernoulli_enumeration(n, p)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    for j in range(n):  # the marginal of worker j, and independence of j and the next worker
        assert weights[~masks[:, j]].sum() == pytest.approx(p[j], abs=1e-12)
        if j + 1 < n:
            both = weights[~masks[:, j] & ~masks[:, j + 1]].sum()
            assert both == pytest.approx(p[j] * p[j + 1], abs=1e-12)


# --- bursty (two-state Markov) failures ---------------------------------------------------------


@pytest.mark.parametrize("p, burst", [(0.1, 5.0), (0.3, 2.0), (0.6, 8.0)])
def test_markov_stationary_rate_and_mean_burst_match_the_parameters(p, burst):
    n, trials = 400, 600
    masks = markov_masks(n, p, burst, trials, seed=11)
    down = ~masks
    # The rate: each iteration's workers are independent Bernoulli(p) (stationary start); the rows
    # 0, 100, 200, ... are correlated only by rho^100 < 1e-4, so pool them as independent samples.
    rows = down[::100].reshape(-1)
    assert abs(rows.mean() - p) <= 4 * math.sqrt(p * (1 - p) / rows.size)
    # The bursts: complete runs are i.i.d. geometric with mean L and variance L(L - 1).
    lengths = burst_lengths(down)
    se = math.sqrt(burst * (burst - 1) / lengths.size)
    assert abs(lengths.mean() - burst) <= 4 * se
    assert abs(lengths.mean() - 1.15 * burst) > 4 * se  # a 15 % longer mean burst is rejected
    assert lengths.min() >= 1


def test_markov_autocorrelation_is_rho_to_the_lag():
    p, burst = 0.2, 4.0
    rho = 1 - 1 / ((1 - p) * burst)
    fail, recover = markov_transitions(1, p, burst)
    assert 1 - fail[0] - recover[0] == pytest.approx(rho)
    down = ~markov_masks(2000, p, burst, 200, seed=5)
    x = down.astype(float)
    for lag in (1, 2, 5):
        # Pairs (t, t + lag) at t = 0, 50, 100, ... in 2000 independent workers.
        a, b = x[0:150:50].reshape(-1), x[lag:150 + lag:50].reshape(-1)
        correlation = np.corrcoef(a, b)[0, 1]
        assert abs(correlation - rho**lag) <= 4 / math.sqrt(a.size)
    assert abs(np.corrcoef(x[0], x[1])[0, 1]) > 0.4  # far from independent


def test_markov_with_burst_one_over_one_minus_p_is_bernoulli():
    p = 0.25
    fail, recover = markov_transitions(3, p, 1 / (1 - p))
    np.testing.assert_allclose(fail, p)  # fails with probability p whatever the state was
    np.testing.assert_allclose(1 - recover, p)
    down = ~markov_masks(3000, p, 1 / (1 - p), 40, seed=2)
    both = down[0::2] & down[1::2]  # disjoint pairs of consecutive iterations: independent samples
    assert abs(both.mean() - p**2) <= 4 * math.sqrt(p**2 * (1 - p**2) / both.size)
    bursty = ~markov_masks(3000, p, 3.0, 40, seed=2)
    assert (bursty[0::2] & bursty[1::2]).mean() - p**2 > 10 * math.sqrt(p**2 * (1 - p**2) / both.size)


def test_markov_heterogeneous_rates_and_bursts_per_worker():
    p = np.array([0.05, 0.2, 0.4])
    burst = np.array([2.0, 10.0, 3.0])
    masks = markov_masks(3, p, burst, 200000, seed=8)
    down = ~masks
    for j in range(3):
        lengths = burst_lengths(down[:, [j]])
        assert abs(lengths.mean() - burst[j]) <= 4 * math.sqrt(burst[j] * (burst[j] - 1) / lengths.size)
        # the long-run rate, with the s.e. of a time average of a chain of autocorrelation rho^t:
        # Var(mean) ~ p (1 - p) (1 + rho) / ((1 - rho) T)
        rho = 1 - 1 / ((1 - p[j]) * burst[j])
        se = math.sqrt(p[j] * (1 - p[j]) * (1 + rho) / ((1 - rho) * down.shape[0]))
        assert abs(down[:, j].mean() - p[j]) <= 4 * se


def test_markov_seeds_reproduce_and_the_model_follows_the_same_chain():
    first = markov_masks(10, 0.3, 3.0, 100, seed=7)
    np.testing.assert_array_equal(first, markov_masks(10, 0.3, 3.0, 100, seed=7))
    assert not np.array_equal(first, markov_masks(10, 0.3, 3.0, 100, seed=8))
    model = FailureModel("markov", 10, p=0.3, burst=3.0, seed=7)
    np.testing.assert_array_equal(np.array([model.sample() for _ in range(100)]), first)
    assert model.p == 0.3 and model.burst == 3.0 and model.kind == "markov"


def test_failure_model_keeps_per_worker_rates():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    model = FailureModel("bernoulli", 4, p=p, seed=0)
    np.testing.assert_array_equal(model.p, p)
    masks = np.array([model.sample() for _ in range(200)])
    np.testing.assert_array_equal(masks, bernoulli_masks(4, p, 200, seed=0))
    bursty = FailureModel("markov", 4, p=p, burst=[1.5, 2.0, 3.0, 4.0], seed=0)
    np.testing.assert_array_equal(bursty.p, p)
    np.testing.assert_array_equal(bursty.burst, [1.5, 2.0, 3.0, 4.0])
    assert isinstance(FailureModel("bernoulli", 4, p=0.2).p, float)


def test_unbiased_decoder_is_unbiased_under_bursty_failures_and_the_test_has_power():
    """One iteration of the Markov model is Bernoulli(p_j): D_full[:, S] diag(1/(1-p_j)) is unbiased.

    Independent samples: the state at iteration 30 of 3000 independent chains (seeded streams).
    """
    code = agc.encodings.block_split(agc.assignments.cyclic(8, 8, 4), 2)
    D_full = agc.fixed_decoder(code)
    p = np.linspace(0.05, 0.4, 8)
    rng = np.random.default_rng(1)
    masks = np.array([markov_masks(8, p, 6.0, 31, seed=rng)[-1] for _ in range(3000)])
    products = np.array([agc.unbiased_decoder(code, m, p, D_full) @ code.B[m] for m in masks])
    assert np.abs(z_scores(products, code.target)).max() <= 4.5
    common = np.array([agc.unbiased_decoder(code, m, p.mean(), D_full) @ code.B[m] for m in masks])
    assert np.abs(z_scores(common, code.target)).max() > 8  # the common-p decoder's bias is found


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: bernoulli_masks(4, [0.1, 0.2], 3), r"p must be a probability or a vector of one per worker \(length n=4\)"),
    (lambda: bernoulli_masks(3, [0.1, 1.0, 0.2], 3), r"p\[1\] must lie in \[0, 1\), got 1.0"),
    (lambda: bernoulli_masks(3, [0.1, -0.1, 0.2], 3), r"p\[1\] must lie in \[0, 1\)"),
    (lambda: bernoulli_masks(3, [0.1, np.nan, 0.2], 3), r"p\[1\] must lie in \[0, 1\)"),
    (lambda: bernoulli_masks(3, 1.5, 3), r"p must lie in \[0, 1\), got 1.5"),
    (lambda: markov_masks(3, 0.1, 0.5, 3), r"burst must be a finite mean burst length >= 1 \(iterations\), got 0.5"),
    (lambda: markov_masks(3, 0.1, [1.0, 0.9, 2.0], 3), r"burst\[1\] must be a finite mean burst length >= 1"),
    (lambda: markov_masks(3, 0.1, [2.0, 2.0], 3), r"burst must be a mean burst length or a vector .*length n=3"),
    (lambda: markov_masks(3, 0.1, np.inf, 3), r"burst must be a finite mean burst length"),
    (lambda: markov_masks(3, 0.8, 2.0, 3), r"burst\[0\] = 2.0 is too short for the failure rate p\[0\] = 0.8"),
    (lambda: markov_masks(3, [0.1, 0.2], 2.0, 3), r"p must be a probability or a vector"),
    (lambda: markov_masks(3, 0.1, 2.0, 0), r"trials must be >= 1"),
    (lambda: FailureModel("markov", 3, p=0.1), r"failure model 'markov' needs the mean burst length"),
    (lambda: FailureModel("markov", 3, p=0.1, burst=0.0), r"burst must be a finite mean burst length >= 1"),
    (lambda: FailureModel("bernoulli", 3, p=[0.1, 0.2]), r"p must be a probability or a vector"),
    (lambda: failure_probabilities(2, [[0.1, 0.2]]), r"length n=2\), got shape \(1, 2\)"),
])
def test_bad_input_raises_value_error_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="p must be a real number"):
        bernoulli_masks(3, "0.1", 3)
    with pytest.raises(TypeError, match="p must be a real number or a vector"):
        bernoulli_masks(2, ["a", "b"], 3)
    with pytest.raises(TypeError, match="burst must be a real number"):
        markov_masks(2, 0.1, True, 3)
    with pytest.raises(TypeError, match="burst must be a real number"):
        markov_masks(2, 0.1, "long", 3)


def test_markov_continues_from_a_given_previous_iteration():
    """From a known state, a worker is absent next with probability f (it answered) or 1 - r (it did not)."""
    p, burst = 0.2, 5.0
    fail, recover = markov_transitions(2, p, burst)
    previous = np.array([True, False])
    rng = np.random.default_rng(4)
    first = np.array([markov_masks(2, p, burst, 1, seed=rng, previous=previous)[0] for _ in range(20000)])
    z = rate_z(first, [fail[0], 1 - recover[1]])
    assert np.all(np.abs(z) <= 4), z
    assert np.all(np.abs(rate_z(first, p)) > 10)  # not the stationary law
    np.testing.assert_array_equal(markov_masks(2, p, burst, 30, seed=3, previous=[0]),
                                  markov_masks(2, p, burst, 30, seed=3, previous=previous))
    with pytest.raises(ValueError, match="previous as a boolean mask must have shape"):
        markov_masks(2, p, burst, 3, previous=np.ones(3, bool))
