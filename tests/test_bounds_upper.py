import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.bounds import (
    diagonal_dominance_bound,
    diagonal_dominance_bounds,
    rdm_average_bound,
    rdm_bibd_error,
    rdm_bibd_expected_error,
    rdm_expected_error_bound,
    rdm_pattern_bound,
    rdm_pattern_bounds,
    rdm_srg_bound,
    stacking_bibd_error,
)
from agc.encodings import block_split_copies, iid_gaussian, rdm, rhpnc, stacking


def sign_averaged_errors(A, ell, masks, draws, seed=0, dist="rademacher"):
    """``(draws, m)`` optimal errors of ``draws`` independent RDM codes on the same patterns."""
    return np.array([agc.optimal_errors(rdm(A, ell, seed=seed + t, dist=dist), masks) for t in range(draws)])


# --- stacking on a symmetric BIBD: an exact formula --------------------------------------------


@pytest.mark.parametrize("q", [3, 4])
@pytest.mark.parametrize("ell", [1, 2, 3])
def test_stacking_error_on_projective_plane_is_the_closed_form(q, ell):
    A = agc.assignments.projective_plane(q)
    n = A.shape[0]
    code = stacking(A, ell)
    for s in (0, 1, 3, n // 2, n - 2):
        errors = agc.optimal_errors(code, agc.failures.fixed_masks(n, s, 200, seed=s))
        assert np.allclose(errors, stacking_bibd_error(A, ell, s), rtol=0, atol=1e-9)
    assert stacking_bibd_error(A, ell, 0) == pytest.approx((ell - 1) * n)  # one block's worth recovered


def test_hypotheses_are_checked():
    affine = agc.assignments.affine_plane(3)  # two lines share 0 or 1 point
    with pytest.raises(ValueError, match=r"constant pairwise intersection.*between 0 and 1"):
        stacking_bibd_error(affine, 2, 5)
    with pytest.raises(ValueError, match="constant pairwise intersection"):
        rdm_expected_error_bound(affine, 2, 5)
    irregular = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="constant load"):
        rdm_bibd_error(irregular, np.ones((2, 3)), [0, 1])
    plane = agc.assignments.projective_plane(2)
    with pytest.raises(ValueError, match="s must be <= 7, got 8"):
        stacking_bibd_error(plane, 2, 8)
    with pytest.raises(ValueError, match="dist must be"):
        rdm_expected_error_bound(plane, 2, 5, dist="uniform")
    with pytest.raises(ValueError, match="signs must be an \\(ell, n\\) array of ±1"):
        rdm_bibd_error(plane, np.full((2, 7), 0.5), [0, 1])
    cycle = np.roll(np.eye(6, dtype=int), 1, axis=1) + np.roll(np.eye(6, dtype=int), -1, axis=1)
    with pytest.raises(ValueError, match="is not constant"):
        rdm_srg_bound(cycle, 2, 4)
    petersen = agc.assignments.graph_adjacency(agc.assignments.srg("petersen"))
    with pytest.raises(ValueError, match="exactly one of s or survivors"):
        rdm_srg_bound(petersen, 2)
    with pytest.raises(ValueError, match="over must be"):
        rdm_srg_bound(petersen, 2, 5, over="best")


# --- RDM on symmetric BIBDs: exact formulas and the expected-error bound ------------------------


def test_rdm_exact_error_per_sign_draw_matches_the_engine():
    A = agc.assignments.projective_plane(3)
    for ell in (1, 2, 3):
        for seed in range(5):
            code = rdm(A, ell, seed=seed)
            masks = agc.failures.fixed_masks(13, 1 + seed, 20, seed=seed)
            exact = [rdm_bibd_error(A, code.vectors, m) for m in masks]
            assert np.allclose(exact, agc.optimal_errors(code, masks), atol=1e-9)
            # concavity: no draw beats orthogonal signs
            size = 13 - (1 + seed)
            floor = code.k * ell - ell * 16 * size / (3 * ell + size)
            assert np.all(np.array(exact) >= floor - 1e-9)


@pytest.mark.parametrize("q", [3, 4, 5])
@pytest.mark.parametrize("ell", [2, 3])
def test_rdm_mean_error_on_projective_plane_is_under_the_bound(q, ell):
    A = agc.assignments.projective_plane(q)
    n = A.shape[0]
    draws = 30
    for s in (0, 2, n // 4, n // 2):
        errors = np.array([
            agc.optimal_errors(rdm(A, ell, seed=100 * s + t), agc.failures.fixed_masks(n, s, 60, seed=100 * s + t)).mean()
            for t in range(draws)
        ])  # each entry averages patterns for one sign draw; draws are independent
        mean, se = errors.mean(), errors.std(ddof=1) / np.sqrt(draws)
        bound = rdm_expected_error_bound(A, ell, s)
        exact = rdm_bibd_expected_error(A, ell, s)
        assert mean <= bound + 4 * se, (q, ell, s, mean, se, bound)
        assert exact <= bound + 1e-9
        assert abs(mean - exact) <= 4 * se + 1e-9, (q, ell, s, mean, se, exact)


def test_rdm_bound_is_tight_for_ell_one_and_gaussian_bound_holds():
    A = agc.assignments.projective_plane(4)
    n = A.shape[0]
    for s in (0, 3, n - 5):
        assert rdm_expected_error_bound(A, 1, s) == pytest.approx(stacking_bibd_error(A, 1, s))
        assert rdm_bibd_expected_error(A, 1, s) == pytest.approx(stacking_bibd_error(A, 1, s))
    masks = agc.failures.fixed_masks(n, 4, 40, seed=1)
    errors = sign_averaged_errors(A, 2, masks, 40, dist="gaussian").mean(axis=1)
    assert errors.mean() <= rdm_expected_error_bound(A, 2, 4, dist="gaussian") + 4 * errors.std(ddof=1) / np.sqrt(40)


def test_rdm_pattern_bound_holds_per_pattern_on_an_irregular_assignment():
    rng = np.random.default_rng(3)
    A = (rng.random((14, 9)) < 0.35).astype(int)
    A[np.arange(14), rng.integers(0, 9, 14)] = 1  # no empty worker
    masks = agc.failures.fixed_masks(14, 3, 25, seed=2)
    draws = 200
    errors = sign_averaged_errors(A, 2, masks, draws)
    mean, se = errors.mean(axis=0), errors.std(axis=0, ddof=1) / np.sqrt(draws)
    bounds = rdm_pattern_bounds(A, 2, masks)
    assert np.all(mean <= bounds + 4 * se + 1e-9)
    assert bounds[0] == pytest.approx(rdm_pattern_bound(A, 2, masks[0]))
    # the averaged closed form holds for the average over patterns and signs
    many = agc.failures.fixed_masks(14, 3, 400, seed=5)
    per_draw = sign_averaged_errors(A, 2, many, 30, seed=7).mean(axis=1)
    assert per_draw.mean() <= rdm_average_bound(A, 2, 3) + 4 * per_draw.std(ddof=1) / np.sqrt(30)


def test_rdm_bounds_agree_on_constant_intersection():
    A = agc.assignments.projective_plane(3)
    masks = agc.failures.fixed_masks(13, 5, 10, seed=0)
    for dist in ("rademacher", "gaussian"):
        closed = rdm_expected_error_bound(A, 3, 5, dist=dist)
        assert rdm_average_bound(A, 3, 5, dist=dist) == pytest.approx(closed)
        assert np.allclose(rdm_pattern_bounds(A, 3, masks, dist=dist), closed)  # uniform weights are optimal here


# --- RDM on strongly regular graphs -------------------------------------------------------------


@pytest.fixture(scope="module")
def srg_assignments():
    return {
        "petersen": agc.assignments.graph_adjacency(agc.assignments.srg("petersen")),
        "paley13": agc.assignments.graph_adjacency(agc.assignments.srg("paley", q=13)),
        "T6": agc.assignments.graph_adjacency(agc.assignments.srg("triangular", m=6)),
    }


@pytest.mark.parametrize("name", ["petersen", "paley13", "T6"])
@pytest.mark.parametrize("ell", [2, 3])
def test_rdm_srg_bound_holds(name, ell, srg_assignments):
    A = srg_assignments[name]
    n = A.shape[0]
    draws = 40
    for s in (0, 1, 3, n // 3):
        masks = agc.failures.fixed_masks(n, s, 60, seed=s)
        errors = sign_averaged_errors(A, ell, masks, draws, seed=10 * s)
        mean, se = errors.mean(axis=0), errors.std(axis=0, ddof=1) / np.sqrt(draws)
        per_set = np.array([rdm_srg_bound(A, ell, survivors=m) for m in masks])
        assert np.all(mean <= per_set + 4 * se + 1e-9), (name, ell, s)
        assert np.all(rdm_pattern_bounds(A, ell, masks) <= per_set + 1e-9)  # optimal weights beat uniform ones
        worst = rdm_srg_bound(A, ell, s, over="worst")
        assert np.all(per_set <= worst + 1e-9)
        average = rdm_srg_bound(A, ell, s)
        pooled_se = errors.mean(axis=1).std(ddof=1) / np.sqrt(draws)
        assert mean.mean() <= average + 4 * pooled_se
        assert average == pytest.approx(rdm_average_bound(A, ell, s))


def test_rdm_srg_bound_accepts_a_graph(srg_assignments):
    graph = agc.assignments.srg("petersen")
    assert rdm_srg_bound(graph, 2, 2) == rdm_srg_bound(srg_assignments["petersen"], 2, 2)


# --- diagonal dominance: the RHPNC bound, valid for every code ----------------------------------


def dominance_codes():
    biregular = agc.assignments.random_biregular(40, 20, 3, seed=0)
    plane = agc.assignments.projective_plane(4)
    return [
        rhpnc(biregular, 2, seed=1),
        rhpnc(biregular, 2, seed=1, variant="pm1"),
        rdm(biregular, 2, seed=2),
        rdm(plane, 3, seed=3, dist="gaussian"),
        iid_gaussian(plane, 2, seed=4),
        stacking(plane, 2),
        block_split_copies(agc.assignments.cyclic(10, 10, 3), 2),
        agc.encodings.polynomial(agc.assignments.cyclic(10, 10, 4), 2),
    ]


def test_diagonal_dominance_bound_is_above_the_optimal_error_on_every_pattern():
    for code in dominance_codes():
        for s in (0, 1, 4, code.n // 4, code.n // 2):
            masks = agc.failures.fixed_masks(code.n, s, 150, seed=s)
            errors = agc.optimal_errors(code, masks)
            refined = diagonal_dominance_bounds(code, masks, refine=True)
            bounds = diagonal_dominance_bounds(code, masks)
            assert np.all(errors <= refined + 1e-9), code.name
            assert np.all(refined <= bounds + 1e-9), code.name
            assert bounds[0] == pytest.approx(diagonal_dominance_bound(code, masks[0]))


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 9), st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_diagonal_dominance_bound_holds_on_random_small_codes(n, k, ell, seed, survival):
    rng = np.random.default_rng(seed)
    A = (rng.random((n, k)) < 0.5).astype(np.int64)  # any support, empty rows included
    values = rng.integers(-2, 3, (n, k * ell)) if seed % 2 else rng.standard_normal((n, k * ell))
    code = agc.Code(np.tile(A, (1, ell)) * values, A, ell)
    masks = rng.random((8, n)) < survival
    errors = agc.optimal_errors(code, masks)
    refined = diagonal_dominance_bounds(code, masks, refine=True)
    assert np.all(errors <= refined + 1e-9)
    assert np.all(refined <= diagonal_dominance_bounds(code, masks) + 1e-9)


def test_diagonal_dominance_bound_is_the_error_of_an_explicit_decoder():
    code = rhpnc(agc.assignments.random_biregular(40, 20, 3, seed=0), 2, seed=1, variant="pm1")
    mask = agc.failures.fixed_masks(40, 6, 1, seed=3)[0]
    K = code.B[mask] @ code.B[mask].T
    M = code.B[mask] @ code.target.T
    D = M.T / np.abs(K).sum(axis=1)
    assert agc.decoding_error(code, mask, D) <= diagonal_dominance_bound(code, mask) + 1e-12
    assert agc.optimal_error(code, np.arange(40)) <= diagonal_dominance_bound(code, np.arange(40)) + 1e-12


# --- the paper's claim: the new schemes beat the stacking baseline ------------------------------

FRACTIONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)


def spread_cyclic(n0, k, load):
    """Worker ``j`` holds ``load`` consecutive chunks from ``⌊j k / n0⌋`` (mod ``k``): every chunk is covered."""
    A = np.zeros((n0, k), dtype=np.int64)
    for j in range(n0):
        A[j, (j * k // n0 + np.arange(load)) % k] = 1
    return A


def mean_error(codes, masks):
    return float(np.mean([agc.optimal_errors(code, masks).mean() for code in codes]))


@pytest.mark.parametrize("setting", ["biregular(40,20,3)", "PG(2,9)"])
def test_new_schemes_beat_the_stacking_baseline(setting):
    ell, patterns, draws = 2, 200, 3
    if setting == "PG(2,9)":
        A = agc.assignments.projective_plane(9)
        schemes = {"rdm": lambda t: rdm(A, ell, seed=t)}
        # RHPNC does not exist here: A is square and non-singular, so A^T(v1 ∘ v2) = 0 forces v1 ∘ v2 = 0
        for variant in ("gaussian", "pm1"):
            with pytest.raises(ValueError):
                rhpnc(A, ell, variant=variant)
        # block split needs n/ell workers: 45 = 91 // 2 workers, 91 chunks, load 10 (spread cyclic)
        split = block_split_copies(spread_cyclic(A.shape[0] // ell, A.shape[1], 10), ell)
    else:
        A = agc.assignments.random_biregular(40, 20, 3, seed=0)
        schemes = {
            "rdm": lambda t: rdm(A, ell, seed=t),
            "rhpnc-gaussian": lambda t: rhpnc(A, ell, seed=t),
            "rhpnc-pm1": lambda t: rhpnc(A, ell, seed=t, variant="pm1"),
        }
        split = block_split_copies(agc.assignments.cyclic(20, 20, 3), ell)  # 20 workers per group, load 3
    n = A.shape[0]
    codes = {name: [make(t) for t in range(draws)] for name, make in schemes.items()}
    lines = [f"{setting}, ell={ell}: mean err* over {patterns} fixed-s patterns x {draws} draws",
             "s/n | s | stacking | " + " | ".join(codes) + f" | block split (n={split.n})"]
    for fraction in FRACTIONS:
        s = int(np.floor(fraction * n + 1e-9))
        masks = agc.failures.fixed_masks(n, s, patterns, seed=s)
        baseline = mean_error([stacking(A, ell)], masks)
        means = {name: mean_error(group, masks) for name, group in codes.items()}
        s_split = int(np.floor(fraction * split.n + 1e-9))
        split_mean = mean_error([split], agc.failures.fixed_masks(split.n, s_split, patterns, seed=s))
        lines.append(f"{fraction:.2f} | {s} | {baseline:.3f} | " + " | ".join(f"{v:.3f}" for v in means.values())
                     + f" | {split_mean:.3f} (s={s_split})")
        for name, value in means.items():
            assert value < baseline, (setting, fraction, name, value, baseline)
    print("\n".join(lines))
