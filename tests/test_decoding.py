import numpy as np
import pytest
from conftest import unbiased_estimates
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.stats import z_scores


def test_optimal_decoder_attains_optimal_error(small_codes):
    for code in small_codes:
        mask = agc.failures.bernoulli_masks(code.n, 0.3, 1, seed=2)[0]
        D = agc.optimal_decoder(code, mask)
        assert agc.decoding_error(code, mask, D) == pytest.approx(agc.optimal_error(code, mask), abs=1e-9)


def test_fixed_decoder_exists_only_for_exact_codes():
    A = agc.assignments.cyclic(6, 6, 3)
    D = agc.fixed_decoder(agc.encodings.block_split_copies(A, 2))
    assert D.shape == (2, 12)
    with pytest.raises(ValueError, match="no exact decoder"):
        agc.fixed_decoder(agc.encodings.stacking(A, 2))


@pytest.mark.parametrize("p", [0.1, 0.3])
def test_unbiased_decoder_is_unbiased_on_random_gradients(p):
    code = agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2)
    D_full = agc.fixed_decoder(code)
    rng = np.random.default_rng(7)
    G = rng.standard_normal((code.k, 6))
    z = z_scores(unbiased_estimates(code, G, p, D_full, 4000, seed=8), G.sum(axis=0))
    assert np.all(np.abs(z) <= 4), z


def test_unbiased_expected_error_formula_matches_enumeration():
    code = agc.encodings.block_split_copies(agc.assignments.cyclic(5, 5, 2), 2)
    D_full = agc.fixed_decoder(code)
    p = 0.3
    masks, weights = agc.failures.bernoulli_enumeration(code.n, p)
    exact = sum(w * agc.decoding_error(code, m, agc.unbiased_decoder(code, m, p, D_full)) for m, w in zip(masks, weights))
    assert agc.bounds.unbiased_expected_error(code, D_full, p) == pytest.approx(exact, rel=1e-10)
    # it bounds the optimal error from above, in expectation
    assert agc.expected_error(code, p=p, exact=True).mean <= exact + 1e-12


def common_p_estimates(code, G, p_true, p_decoder, D_full, draws, seed):
    """As ``unbiased_estimates``, with survivors drawn at ``p_true`` but decoded as if at ``p_decoder``."""
    messages = code.encode(G)
    masks = agc.failures.bernoulli_masks(code.n, p_true, draws, seed=seed)
    return np.array([np.asarray(code.decode(messages, m, agc.unbiased_decoder(code, m, p_decoder, D_full), d=G.shape[1]))
                     for m in masks])


def test_unbiased_decoder_with_per_worker_rates_is_unbiased_and_the_test_has_power():
    code = agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2)
    D_full = agc.fixed_decoder(code)
    p = np.array([0.05, 0.4, 0.1, 0.3, 0.02, 0.35, 0.2, 0.15])
    G = np.random.default_rng(3).standard_normal((code.k, 6))
    z = z_scores(unbiased_estimates(code, G, p, D_full, 4000, seed=8), G.sum(axis=0))
    assert np.all(np.abs(z) <= 4), z
    # The decoder that rescales every survivor by the mean rate is biased under these p_j:
    z_common = z_scores(common_p_estimates(code, G, p, p.mean(), D_full, 4000, seed=8), G.sum(axis=0))
    assert np.abs(z_common).max() > 6, z_common


def test_unbiased_decoder_rescales_each_survivor_by_its_own_rate():
    code = agc.encodings.block_split(agc.assignments.cyclic(6, 6, 3), 2)
    D_full = agc.fixed_decoder(code)
    p = np.linspace(0.0, 0.5, 6)
    survivors = np.array([True, False, True, True, False, True])
    D = agc.unbiased_decoder(code, survivors, p, D_full)
    for column, j in enumerate(np.flatnonzero(survivors)):
        np.testing.assert_allclose(D[:, column], D_full[:, j] / (1 - p[j]), rtol=1e-15)
    np.testing.assert_array_equal(agc.unbiased_decoder(code, survivors, 0.2, D_full),
                                  agc.unbiased_decoder(code, survivors, np.full(6, 0.2), D_full))
    with pytest.raises(ValueError, match=r"p must be a probability or a vector of one per worker \(length n=6\)"):
        agc.unbiased_decoder(code, survivors, p[:5], D_full)
    with pytest.raises(ValueError, match=r"p\[5\] must lie in \[0, 1\), got 1.0"):
        agc.unbiased_decoder(code, survivors, np.append(p[:5], 1.0), D_full)
    with pytest.raises(ValueError, match=r"p must be a probability or a vector"):
        agc.bounds.unbiased_expected_error(code, D_full, p[:5])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), code_index=st.sampled_from([0, 1, 2]))
def test_unbiased_expected_error_with_per_worker_rates_matches_enumeration(seed, code_index):
    """sum_j p_j/(1-p_j) |D_full[:, j]|^2 |B_j|^2 against the exact mean over all 2^n patterns."""
    code = [agc.encodings.block_split_copies(agc.assignments.cyclic(5, 5, 2), 2),
            agc.encodings.polynomial(agc.assignments.cyclic(7, 7, 3), 2),
            agc.encodings.stochastic_code(agc.assignments.projective_plane(2))][code_index]
    D_full = agc.fixed_decoder(code)
    p = np.random.default_rng(seed).uniform(0.0, 0.8, code.n)
    masks, weights = agc.failures.bernoulli_enumeration(code.n, p)
    exact = sum(w * agc.decoding_error(code, m, agc.unbiased_decoder(code, m, p, D_full)) for m, w in zip(masks, weights))
    assert agc.bounds.unbiased_expected_error(code, D_full, p) == pytest.approx(exact, rel=1e-9)
    mean = sum(w * agc.unbiased_decoder(code, m, p, D_full) @ code.B[m] for m, w in zip(masks, weights))
    np.testing.assert_allclose(mean, code.target, atol=1e-10)  # unbiased, exactly
    assert agc.expected_error(code, p=p, exact=True).mean <= exact + 1e-9  # err* lies below it
