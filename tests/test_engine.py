import math

import numpy as np
import pytest
from conftest import gaussian_code

import agc


def test_batched_equals_single(small_codes):
    for code in small_codes:
        masks = agc.failures.bernoulli_masks(code.n, 0.35, 200, seed=3)
        batched = agc.optimal_errors(code, masks)
        single = np.array([agc.optimal_error(code, m) for m in masks])
        np.testing.assert_allclose(batched, single, atol=1e-9, err_msg=code.name)


def test_normalised_error_lies_in_unit_interval(small_codes):
    for code in small_codes:
        masks = agc.failures.bernoulli_masks(code.n, 0.5, 100, seed=4)
        errors = agc.optimal_errors(code, masks, normalized=True)
        assert np.all((errors >= 0) & (errors <= 1))
    code = small_codes[0]
    assert agc.optimal_error(code, np.zeros(code.n, dtype=bool), normalized=True) == 1.0
    assert agc.optimal_errors(code, np.zeros((1, code.n), dtype=bool), normalized=True)[0] == pytest.approx(1.0)


def test_stacking_loses_k_ell_minus_k_with_no_straggler():
    A = agc.assignments.cyclic(9, 9, 3)
    for ell in (1, 2, 3):
        code = agc.encodings.stacking(A, ell)
        assert agc.optimal_error(code, np.arange(9)) == pytest.approx(9 * (ell - 1), abs=1e-9)


@pytest.mark.parametrize("n,k,load", [(6, 6, 2), (6, 6, 3), (8, 4, 2), (9, 9, 3)])
def test_fractional_repetition_expected_error_is_p_to_the_replication(n, k, load):
    code = agc.encodings.stacking(agc.assignments.fractional_repetition(n, k, load), 1)
    replication = n * load // k
    for p in (0.1, 0.3, 0.6):
        exact = agc.expected_error(code, p=p, exact=True, normalized=True)
        assert exact.mean == pytest.approx(p**replication, abs=1e-12)
    for p in (0.3, 0.6):  # at p = 0.1 a lost group is too rare for 4000 Monte Carlo draws
        mc = agc.expected_error(code, p=p, trials=4000, seed=11, normalized=True)
        assert mc.se > 0 and abs(mc.mean - p**replication) <= 3 * mc.se


@pytest.mark.parametrize("n,s,ell", [(6, 2, 2), (8, 3, 2), (9, 2, 3), (12, 4, 2), (16, 3, 4), (24, 2, 2), (24, 3, 3)])
def test_polynomial_code_is_exact_for_every_survivor_set(n, s, ell):
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ell), ell)
    masks = agc.failures.all_straggler_sets(n, s)
    errors = agc.optimal_errors(code, masks, normalized=True)
    assert errors.max() <= 1e-8
    # the explicit least-squares decoder agrees on a sample
    for mask in masks[:: max(1, len(masks) // 25)]:
        assert agc.optimal_error(code, mask, normalized=True) <= 1e-8


def test_polynomial_code_with_more_stragglers_is_not_exact():
    code = agc.encodings.polynomial(agc.assignments.cyclic(8, 8, 4), 2)
    errors = agc.optimal_errors(code, agc.failures.all_straggler_sets(8, 3))
    assert errors.min() > 1e-3


def test_expected_error_exact_fixed_s_matches_enumeration():
    code = gaussian_code(agc.assignments.cyclic(7, 7, 3), 2, 5)
    exact = agc.expected_error(code, s=2, exact=True)
    masks = agc.failures.all_straggler_sets(7, 2)
    assert exact.mean == pytest.approx(np.mean([agc.optimal_error(code, m) for m in masks]), abs=1e-9)
    mc = agc.expected_error(code, s=2, trials=3000, seed=0)
    assert abs(mc.mean - exact.mean) <= 4 * mc.se


def test_worst_case_exhaustive_and_search_agree_on_small_code():
    code = gaussian_code(agc.assignments.cyclic(10, 10, 3), 2, 6)
    exhaustive = agc.worst_case(code, 3, method="exhaustive")
    assert exhaustive.exhaustive and exhaustive.evaluated == math.comb(10, 3)
    mask = np.ones(10, dtype=bool)
    mask[list(exhaustive.stragglers)] = False
    assert agc.optimal_error(code, mask) == pytest.approx(exhaustive.error, abs=1e-9)
    search = agc.worst_case(code, 3, method="search", seed=0)
    assert not search.exhaustive
    assert search.error <= exhaustive.error + 1e-9
    assert search.error >= 0.9 * exhaustive.error  # the heuristic finds (nearly) the worst set here


def test_seeds_reproduce_bit_for_bit():
    code = gaussian_code(agc.assignments.cyclic(10, 10, 3), 2, 6)
    a = agc.expected_error(code, p=0.2, trials=200, seed=42)
    b = agc.expected_error(code, p=0.2, trials=200, seed=42)
    c = agc.expected_error(code, p=0.2, trials=200, seed=43)
    assert a == b and a != c
    assert agc.worst_case(code, 2, method="search", seed=1) == agc.worst_case(code, 2, method="search", seed=1)


def test_error_curve_rows():
    code = gaussian_code(agc.assignments.cyclic(8, 8, 3), 2, 0)
    curve = agc.error_curve(code, s=[0, 1, 2], trials=50, seed=0, normalized=True)
    assert curve["s"].tolist() == [0, 1, 2] and set(curve["model"]) == {"fixed"}
    assert curve["mean"][0] == pytest.approx(agc.optimal_error(code, np.arange(8), normalized=True))
    assert curve.equals(agc.error_curve(code, s=[0, 1, 2], trials=50, seed=0, normalized=True))


def monotone_polynomial(n, load, ell):
    """The polynomial code with worker j at node j: the earlier node order, badly conditioned."""
    B = agc.encodings.exact._encoding(n, load, ell, np.arange(n))
    return agc.Code(B, agc.assignments.cyclic(n, n, load), ell, name="polynomial, monotone nodes")


def planted_near_loss(epsilon, seed):
    """Stacking on fractional repetition (silencing a group loses its chunks exactly) plus
    ``epsilon`` Gaussian noise on the support: those directions become barely kept.
    """
    F = agc.assignments.fractional_repetition(24, 24, 4)
    noise = np.tile(F, (1, 2)) * np.random.default_rng(seed).standard_normal((24, 48))
    return agc.Code(agc.encodings.stacking(F, 2).B + epsilon * noise, F, 2, name=f"near loss {epsilon:g}")


def duplicated_rows(seed):
    """A Gaussian code on fractional repetition whose workers 4 and 5 send the same message:
    their difference lies in B's left null space, so W_RR is singular when both straggle.
    """
    code = gaussian_code(agc.assignments.fractional_repetition(12, 12, 3), 2, seed)
    B = code.B.copy()
    B[5] = B[4]
    return agc.Code(B, code.assignment, 2, name="duplicated rows")


ILL_CONDITIONED = {
    "monotone n=20 s=4 ell=1": (lambda: monotone_polynomial(20, 5, 1), 4),  # err* 9.7 reported for end runs
    "monotone n=16 s=4 ell=2": (lambda: monotone_polynomial(16, 6, 2), 4),
    "monotone n=14 s=3 ell=3": (lambda: monotone_polynomial(14, 6, 3), 3),
    "spread n=24 s=10 ell=2": (lambda: agc.encodings.polynomial(agc.assignments.cyclic(24, 24, 12), 2, max_error=None), 10),
    "spread n=40 s=12 ell=2": (lambda: agc.encodings.polynomial(agc.assignments.cyclic(40, 40, 14), 2, max_error=None), 12),
    "spread n=60 s=6 ell=3": (lambda: agc.encodings.polynomial(agc.assignments.cyclic(60, 60, 9), 3), 6),
    "near loss 1e-2": (lambda: planted_near_loss(1e-2, 0), 8),
    "duplicated rows": (lambda: duplicated_rows(0), 5),
    "n > k ell, many lost": (lambda: gaussian_code(agc.assignments.cyclic(30, 10, 4), 2, 0), 12),
}


@pytest.mark.parametrize("name", list(ILL_CONDITIONED))
def test_batched_agrees_with_least_squares_on_hard_codes(name):
    """Downdating must agree with the direct least-squares path to the engine's tolerance (1e-9,
    absolute) or fall back to it, on codes built to be hard: polynomial codes with a badly
    conditioned node order or many stragglers (every set when there are at most 5000, otherwise
    the runs of adjacent nodes, where the decoder extrapolates, and random sets), directions
    that are barely kept, and singular blocks W_RR.
    """
    make, s = ILL_CONDITIONED[name]
    code = make()
    rng = np.random.default_rng(1)
    if math.comb(code.n, s) <= 5000:
        masks = agc.failures.all_straggler_sets(code.n, s)
    else:
        runs = (np.arange(s)[None, :] + np.arange(code.n)[:, None]) % code.n  # adjacent workers
        if "stride" in code.params:  # adjacent nodes of a polynomial code
            worker = np.argsort(np.arange(code.n) * code.params["stride"] % code.n)
            runs = np.vstack([runs, worker[runs]])
        masks = agc.failures.masks_from_stragglers(code.n, runs)
        masks = np.vstack([masks, agc.failures.fixed_masks(code.n, s, 300, rng)])
    masks = np.vstack([masks, agc.failures.bernoulli_masks(code.n, 0.3, 300, rng)])
    single = np.array([agc.optimal_error(code, m) for m in masks])
    np.testing.assert_allclose(agc.optimal_errors(code, masks), single, atol=1e-9, rtol=0)


def null_space_energy(code, stragglers):
    """``tr Zᵀ (Nᵀ W_RR N)⁻¹ Z``, ``Z = Nᵀ Y_R``, with an explicit orthonormal basis ``N`` of the
    left null space of ``K_R`` (:func:`scipy.linalg.null_space`), from an SVD of ``B`` made here.
    """
    import scipy.linalg

    U, sigma, Vt = np.linalg.svd(code.B / np.linalg.norm(code.B, axis=1, keepdims=True))
    r = int(np.sum(sigma > 1e-10 * sigma[0]))
    K = U[:, r:]
    W = (U[:, :r] / sigma[:r] ** 2) @ U[:, :r].T
    Y = (U[:, :r] / sigma[:r]) @ (code.target @ Vt[:r].T).T
    N = scipy.linalg.null_space(K[stragglers].T) if K.shape[1] else np.eye(len(stragglers))
    if N.shape[1] == 0:
        return 0.0
    Z = N.T @ Y[stragglers]
    return float(np.trace(Z.T @ np.linalg.solve(N.T @ W[np.ix_(stragglers, stragglers)] @ N, Z)))


@pytest.mark.parametrize("k, s", [(10, 3), (10, 8), (10, 14), (15, 9), (30, 9)])
def test_compiled_kernel_is_the_null_space_formula(k, s):
    """The kernel (:mod:`agc._schur`: ``W + KKᵀ``, a Cholesky factor and a QR, no null-space
    basis) gives the lost energy of the null-space formula, computed independently, for
    ``n = 30`` workers and ``kℓ = 2k`` columns: rank deficient (``n - r = 10``) with ``s`` below,
    at and above ``n - r``, and full row rank (``k = 15, 30``); every generic pattern is clean.
    """
    from agc._schur import lost_energies

    code = gaussian_code(agc.assignments.cyclic(30, k, 4 if k < 30 else 5), 2, seed=k + s)
    spectrum = agc.engine._spectrum(code)
    stragglers = np.sort(np.random.default_rng(s).random((40, 30)).argsort(axis=1)[:, :s], axis=1)
    energy, clean = lost_energies(spectrum.schur, spectrum.null_basis, stragglers, 2, agc.engine.AMBIGUOUS_TOL**2)
    assert clean.all()
    expected = [null_space_energy(code, rows) for rows in stragglers]
    np.testing.assert_allclose(energy, expected, atol=1e-10, rtol=1e-10)
    assert (s <= 10 and k == 10) == bool(np.all(energy == 0))


def test_compiled_kernel_leaves_lost_directions_to_the_svd_path():
    """Stacking on fractional repetition: silencing all 3 workers of a group loses its chunk
    exactly (``K_R`` has a zero singular value), so the kernel marks that pattern not clean, and
    the engine's answer for it is still the least-squares error.
    """
    from agc._schur import lost_energies

    code = agc.encodings.stacking(agc.assignments.fractional_repetition(12, 12, 3), 2)
    spectrum = agc.engine._spectrum(code)
    stragglers = np.array([[0, 1, 2, 5, 9], [0, 3, 6, 9, 10]])  # workers 0-2 are one group
    _, clean = lost_energies(spectrum.schur, spectrum.null_basis, stragglers, 2, agc.engine.AMBIGUOUS_TOL**2)
    assert clean.tolist() == [False, True]
    masks = agc.failures.masks_from_stragglers(12, stragglers)
    np.testing.assert_allclose(agc.optimal_errors(code, masks), [agc.optimal_error(code, m) for m in masks], atol=1e-9)
