import numpy as np
import pytest
from conftest import unbiased_estimates

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
