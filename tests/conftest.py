"""Shared fixtures: small codes of every kind the foundation offers."""

import numpy as np
import pytest

import agc


def gaussian_code(A, ell, seed):
    """Independent Gaussian coefficients on the support of ``A`` (a generic code)."""
    return agc.encodings.iid_gaussian(A, ell, seed=seed)


def unbiased_estimates(code, G, p, D_full, draws, seed):
    """Estimates of ``G.sum(0)`` decoded with :func:`agc.unbiased_decoder` from the messages of
    ``G``, one row per Bernoulli(``p``) survivor set (``draws`` sets, seeded).
    """
    messages = code.encode(G)
    masks = agc.failures.bernoulli_masks(code.n, p, draws, seed=seed)
    return np.array([np.asarray(code.decode(messages, m, agc.unbiased_decoder(code, m, p, D_full), d=G.shape[1]))
                     for m in masks])


@pytest.fixture
def small_codes():
    A = agc.assignments.cyclic(8, 8, 3)
    return [
        gaussian_code(A, 2, 0),
        gaussian_code(agc.assignments.cyclic(12, 5, 2), 2, 1),  # n > k*ell: rank deficient
        agc.encodings.stacking(A, 2),
        agc.encodings.block_split_copies(agc.assignments.cyclic(4, 8, 3), 2),
        agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2),
        agc.encodings.stacking(agc.assignments.fractional_repetition(8, 8, 2), 1),
    ]
