import numpy as np
import pytest
import scipy.linalg
from conftest import unbiased_estimates
from hypothesis import given, settings
from hypothesis import strategies as st

import agc
from agc.bounds import diagonal_dominance_bounds
from agc.encodings import block_split, iid_gaussian, rdm, rhpnc, rhpnc_code
from agc.stats import two_level_mean, z_scores

#: The bi-regular graph of the authors' RHPNC notebook (smunim-47/CE-AGC), as printed there:
#: chunk -> its 6 holders among 40 workers (load 3).
AUTHORS_GRAPH = {
    0: (2, 16, 20, 26, 28, 34), 1: (6, 15, 22, 26, 27, 31), 2: (2, 8, 14, 15, 27, 35), 3: (5, 10, 11, 18, 21, 28),
    4: (6, 9, 14, 23, 24, 27), 5: (0, 21, 24, 26, 36, 39), 6: (1, 3, 7, 16, 18, 28), 7: (6, 10, 25, 29, 32, 33),
    8: (3, 5, 12, 25, 29, 38), 9: (9, 12, 19, 20, 30, 38), 10: (1, 16, 17, 19, 20, 33), 11: (7, 13, 30, 31, 38, 39),
    12: (3, 8, 34, 36, 37, 39), 13: (4, 9, 11, 21, 35, 37), 14: (4, 10, 11, 22, 34, 36), 15: (1, 12, 13, 23, 25, 32),
    16: (7, 13, 14, 17, 31, 32), 17: (0, 17, 24, 29, 35, 37), 18: (2, 4, 8, 15, 23, 33), 19: (0, 5, 18, 19, 22, 30),
}


def constructions():
    """Every randomised encoding, as ``(label, function of (A, ell, seed))``."""
    return [
        ("rdm", lambda A, ell, seed: rdm(A, ell, seed)),
        ("rdm-gaussian", lambda A, ell, seed: rdm(A, ell, seed, dist="gaussian")),
        ("rhpnc-gaussian", lambda A, ell, seed: rhpnc(A, ell, seed)),
        ("rhpnc-authors", lambda A, ell, seed: rhpnc(A, ell, seed, variant="authors")),
        ("rhpnc-pm1", lambda A, ell, seed: rhpnc(A, ell, seed, variant="pm1")),
        ("iid_gaussian", lambda A, ell, seed: iid_gaussian(A, ell, seed)),
    ]


@pytest.fixture(scope="module")
def biregular():
    """The paper's bipartite assignment: 40 workers, 20 chunks, load 3, replication 6."""
    return agc.assignments.random_biregular(40, 20, 3, seed=0)


@pytest.mark.parametrize("label, make", constructions())
def test_support_inside_assignment_and_seeds_reproduce(label, make, biregular):
    A = biregular
    code = make(A, 2, 11)
    assert code.B.shape == (40, 40)
    assert not np.any(code.B[np.tile(A, (1, 2)) == 0]), label
    assert np.array_equal(make(A, 2, 11).B, code.B), label  # bit for bit
    assert not np.array_equal(make(A, 2, 12).B, code.B), label
    assert np.array_equal(make(A, 2, np.random.default_rng(5)).B, make(A, 2, np.random.default_rng(5)).B)


def test_rdm_blocks_are_signed_rows_of_the_assignment(biregular):
    code = rdm(biregular, 3, seed=2)
    signs = code.vectors
    assert set(np.unique(signs)) == {-1.0, 1.0}
    for u in range(3):
        assert np.array_equal(code.B[:, u * 20:(u + 1) * 20], signs[u][:, None] * biregular)
    assert not signs.flags.writeable


def test_bad_input_raises_naming_the_parameter(biregular):
    A = biregular
    with pytest.raises(ValueError, match="dist must be 'rademacher' or 'gaussian', got 'uniform'"):
        rdm(A, 2, dist="uniform")
    with pytest.raises(ValueError, match="variant must be one of 'gaussian', 'authors', 'pm1', got 'binary'"):
        rhpnc(A, 2, variant="binary")
    with pytest.raises(ValueError, match="objective must be 'random' or 'none', got 'max'"):
        rhpnc(A, 2, variant="pm1", objective="max")
    with pytest.raises(ValueError, match="objective='none' applies to variant='pm1' only"):
        rhpnc(A, 2, objective="none")
    with pytest.raises(ValueError, match="v1 applies to the Gaussian variants only"):
        rhpnc(A, 2, variant="pm1", v1=np.ones(40))
    with pytest.raises(ValueError, match=r"v1 must have full support.*worker 3"):
        rhpnc(A, 2, v1=np.r_[np.ones(3), 0.0, np.ones(36)])
    with pytest.raises(ValueError, match=r"v1 must have shape \(1, 40\)"):
        rhpnc(A, 2, variant="authors", v1=np.ones(39))
    with pytest.raises(ValueError, match="ell must be >= 1, got 0"):
        rhpnc(A, 0)
    with pytest.raises(TypeError, match="ell must be an integer"):
        iid_gaussian(A, 2.0)
    with pytest.raises(ValueError, match="A must contain only 0 and 1"):
        rdm(2 * A, 2)
    with pytest.raises(ValueError, match="ell=7 exceeds the replication 6"):
        rhpnc(A, 7)
    odd = agc.assignments.cyclic(9, 9, 3)  # replication 3
    with pytest.raises(ValueError, match=r"even replication.*chunk 0 has 3"):
        rhpnc(odd, 2, variant="pm1")
    with pytest.raises(ValueError, match="divisible by 4"):
        rhpnc(A, 3, variant="pm1")  # replication 6
    with pytest.raises(ValueError, match=r"n > \(ell-1\)\*k = 40"):
        rhpnc(A, 3)  # 40 workers, (ell-1)k = 40 constraints: v_3 = 0
    with pytest.raises(ValueError, match=r"last right singular vector.*is not a null vector"):
        rhpnc(A, 3, variant="authors")  # the authors' commented rule for ell = 3 on a square constraint matrix
    with pytest.raises(ValueError, match=r"vectors must have shape \(ell, n\)"):
        rhpnc_code(A, np.ones(40))
    with pytest.raises(ValueError, match="v_2 vanishes on every holder of chunk"):
        rhpnc_code(A, np.vstack([np.ones(40), np.zeros(40)]))
    with pytest.raises(ValueError, match="not chunk-orthogonal"):
        rhpnc_code(A, np.ones((2, 40)))


def test_pm1_infeasibility_is_proved_by_the_integer_program():
    # chunks 0-2 form a triangle on workers 0-2 (an odd cycle of "opposite sign" constraints);
    # workers 3 and 4 share chunk 3. Replication 2 everywhere and rank(A) = 4 < n = 5.
    A = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="integer program proves"):
        rhpnc(A, 2, variant="pm1")


@pytest.mark.parametrize("variant", ["gaussian", "authors", "pm1"])
@pytest.mark.parametrize("ell", [2, 3, 4])
def test_rhpnc_is_exact_without_stragglers(variant, ell, biregular):
    A = biregular if ell == 2 else agc.assignments.random_biregular(40, 10, 2, seed=1)  # replication 6 or 8
    code = rhpnc(A, ell, seed=3, variant=variant)
    V = code.vectors
    products = V[:, None, :] * V[None, :, :]  # (ell, ell, n): v_u ∘ v_w
    off = ~np.eye(ell, dtype=bool)
    assert np.abs(products[off] @ A).max() <= 1e-12 * np.abs(V).max() ** 2  # A^T(v_u ∘ v_w) = 0, u != w
    assert np.linalg.norm(V @ code.B - code.target) / np.sqrt(code.k * ell) <= 1e-9
    assert agc.optimal_error(code, np.arange(code.n)) / (code.k * ell) <= 1e-9
    if variant == "pm1":
        assert set(np.unique(V)) == {-1.0, 1.0} and np.all(V[0] == 1)
        assert np.all(products[off] @ A == 0)  # balanced on every chunk, exactly


def test_rhpnc_pm1_seeds_give_different_solutions(biregular):
    solutions = {tuple(rhpnc(biregular, 2, seed=t, variant="pm1").vectors[1]) for t in range(6)}
    assert len(solutions) > 1


@pytest.mark.parametrize("variant", ["gaussian", "pm1"])
def test_rhpnc_fixed_decoder_is_unbiased_under_bernoulli_failures(variant, biregular):
    code = rhpnc(biregular, 2, seed=4, variant=variant)
    V = code.vectors
    p, trials = 0.2, 4000
    masks = agc.failures.bernoulli_masks(code.n, p, trials, seed=9)
    # D B_S with D = V[:, S] / (1 - p), for every pattern at once
    products = np.einsum("un,mn,nc->muc", V, masks.astype(float), code.B) / (1 - p)
    mean = products.mean(axis=0)
    se = products.std(axis=0, ddof=1) / np.sqrt(trials)
    target = code.target
    random_entries = se > 0
    assert np.all(np.abs(mean - target)[random_entries] <= 4 * se[random_entries])
    assert np.allclose(mean[~random_entries], target[~random_entries], atol=1e-9)
    assert np.allclose(agc.unbiased_decoder(code, masks[0], p, D_full=V), V[:, masks[0]] / (1 - p))


def test_rhpnc_decoded_gradient_is_unbiased(biregular):
    code = rhpnc(biregular, 2, seed=5, variant="pm1")
    V = code.vectors
    p = 0.15
    rng = np.random.default_rng(6)
    G = rng.standard_normal((code.k, 7))
    z = z_scores(unbiased_estimates(code, G, p, V, 3000, seed=7), G.sum(axis=0))
    assert np.all(np.abs(z) <= 4), z


def test_orthogonal_block_mixing_leaves_the_optimal_error_unchanged():
    A = agc.assignments.cyclic(14, 6, 3)
    ell, k = 3, 6
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((ell, ell)))
    masks = agc.failures.bernoulli_masks(14, 0.3, 200, seed=2)
    for code in (iid_gaussian(A, ell, seed=0), rdm(A, ell, seed=0), rhpnc(A, ell, seed=0)):
        mixed = agc.Code(code.B @ np.kron(Q, np.eye(k)), A, ell, name="mixed")
        assert np.allclose(agc.optimal_errors(mixed, masks), agc.optimal_errors(code, masks), atol=1e-9)
    # a per-worker mixing (signs that differ between workers) is a different code
    per_worker = rdm(A, 2, seed=3)
    same_signs = agc.encodings.stacking(A, 2)
    masks = agc.failures.bernoulli_masks(14, 0.2, 50, seed=4)
    assert agc.optimal_errors(per_worker, masks).mean() < agc.optimal_errors(same_signs, masks).mean() - 1


def authors_P(A, v):
    """The authors' k × n matrix: row i is v on the holders of chunk i over its squared norm there (by a loop)."""
    n, k = A.shape
    P = np.zeros((k, n))
    for i in range(k):
        holders = np.flatnonzero(A[:, i])
        P[i, holders] = v[holders] / np.sum(v[holders] ** 2)
    return P


def test_authors_variant_is_the_last_right_singular_vector_and_exact(biregular):
    A = biregular
    code = rhpnc(A, 2, seed=8, variant="authors")
    v1, v2 = code.vectors
    assert np.array_equal(v1, np.random.default_rng(8).standard_normal(40))  # v_1 as drawn, not rescaled
    P = authors_P(A, v1)
    assert np.allclose(v2, np.linalg.svd(P)[2][-1], atol=1e-12)  # Vt[-1] of the full SVD: one fixed vector
    assert np.isclose(np.linalg.norm(v2), 1.0)
    assert np.abs(A.T @ (v1 * v2)).max() <= 1e-12 * np.abs(v1).max()  # A^T(v_1 ∘ v_2) = 0
    assert np.linalg.norm(code.vectors @ code.B - code.target) <= 1e-9  # D_full B = T
    # a given v1 is used as it is; seeds do not matter then
    given = rhpnc(A, 2, seed=1, variant="authors", v1=v1)
    assert np.array_equal(given.B, code.B) and given.params["v1"] == "given"
    # the random null-space draw of the Gaussian variant is another vector of the same 20-dimensional space
    draw = rhpnc(A, 2, seed=8, v1=v1).vectors[1]
    basis = scipy.linalg.null_space(P)
    assert basis.shape[1] == 20
    for v in (v2, draw / np.linalg.norm(draw)):
        assert np.linalg.norm(basis @ (basis.T @ v) - v) <= 1e-12
    assert abs(v2 @ draw) / np.linalg.norm(draw) < 0.99


def authors_masks(n, s, sets=1000):
    """The straggler sets of the authors' notebook: set j drops ``np.random.seed(78 + j); choice(n, s)``."""
    masks = np.ones((sets, n), dtype=bool)
    for j in range(sets):
        masks[j, np.random.RandomState(78 + j).choice(np.arange(n), s, replace=False)] = False
    return masks


def test_the_authors_rhpnc_notebook_is_reproduced_on_their_graph():
    """Cross-check with the numbers of the authors' RHPNC notebook (their graph, their straggler sets).

    The baseline and the ±1 bound at s = 0 do not depend on any solver. The Gaussian means do:
    v_2 is the last right singular vector that LAPACK returns for a matrix with a 20-dimensional
    null space (numpy's gesdd through OpenBLAS here gives 0.636 and 2.570 as in the notebook's run;
    another LAPACK may return another member of the null space and other means).
    """
    A = np.zeros((40, 20), dtype=np.int64)
    for i, holders in AUTHORS_GRAPH.items():
        A[list(holders), i] = 1
    assert np.all(A.sum(axis=0) == 6) and np.all(A.sum(axis=1) == 3)
    stacking = agc.encodings.stacking(A, 2)
    pm1 = rhpnc(A, 2, seed=0, variant="pm1", objective="none")
    v1 = np.random.RandomState(43).normal(0, 1, size=(40, 1)).ravel()  # their np.random.seed(43) draw
    gaussian = rhpnc(A, 2, variant="authors", v1=v1)
    grid = np.linspace(0, 0.25 * 40, 16, dtype=int)
    assert list(grid) == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 10]
    for s in sorted(set(grid)):
        masks = authors_masks(40, s)
        baseline = agc.optimal_errors(stacking, masks).mean()
        assert np.isclose(baseline, 20.001 if s == 10 else 20.0, atol=5e-10), (s, baseline)
        if s == 0:
            assert np.max(diagonal_dominance_bounds(pm1, masks)) <= 1e-9
            assert agc.optimal_errors(gaussian, masks).max() <= 1e-9
    means = {s: agc.optimal_errors(gaussian, authors_masks(40, s)).mean() for s in (5, 10)}
    assert round(means[5], 3) == 0.636 and round(means[10], 3) == 2.570, (
        f"{means}: LAPACK returned another vector of the null space than the authors' run (see the docstring)")


def test_pm1_any_feasible_point_behaves_like_ours(biregular):
    """The authors take any feasible point (no objective); ours has a random objective: same errors over seeds."""
    A = biregular
    masks_seed = 21
    errors = {}
    for objective in ("random", "none"):
        per_seed = []
        for seed in range(12):
            code = rhpnc(A, 2, seed=seed, variant="pm1", objective=objective)
            assert np.all((code.vectors[0] * code.vectors[1]) @ A == 0)
            per_seed.append(agc.optimal_errors(code, agc.failures.fixed_masks(40, 8, 200, seed=masks_seed + seed)))
        errors[objective] = two_level_mean(np.array(per_seed))
    difference = errors["random"].mean - errors["none"].mean
    se = np.hypot(errors["random"].se, errors["none"].se)
    assert abs(difference) <= 4 * se, (errors, difference, se)
    assert se < 0.1 * errors["none"].mean  # the comparison has power: the s.e. is small against the error


@pytest.mark.parametrize("name", ["PG(2,9)", "SRG(126,25,8,4)"])
def test_no_full_support_rhpnc_on_a_non_singular_assignment_and_the_block_split_is_one(name):
    if name == "PG(2,9)":
        A = agc.assignments.projective_plane(9)
        smallest = np.sqrt(10 - 1)  # A^T A = (r - λ) I + λ J, r = 10, λ = 1: singular values 10 and 3
    else:
        A = agc.assignments.graph_adjacency(agc.assignments.johnson_fusion_126())
        smallest = min(abs(x) for x in agc.assignments.srg_spectrum((126, 25, 8, 4)))  # 25, 7, -3
    n = A.shape[0]
    singular = np.linalg.svd(A.astype(float), compute_uv=False)
    assert np.isclose(singular.min(), smallest) and smallest >= 3  # rank(A) = n, ker A^T = {0}
    for v1 in (np.random.default_rng(0).standard_normal(n), np.ones(n)):  # full support
        constraints = A.T * v1[None, :]  # row i: (A[:, i] ∘ v_1)^T, so constraints @ v2 = A^T(v_1 ∘ v_2)
        assert scipy.linalg.null_space(constraints).shape[1] == 0  # only v_2 = 0
        assert np.linalg.svd(constraints, compute_uv=False).min() >= smallest * np.abs(v1).min() * (1 - 1e-12)
    for variant in ("gaussian", "authors", "pm1"):
        with pytest.raises(ValueError, match=rf"rank\(A\) = n = {n}.*pairwise disjoint supports.*block_split\(A, ell\)"):
            rhpnc(A, 2, seed=0, variant=variant)
    split = block_split(A, 2)
    V = split.vectors
    assert np.all(V[0] * V[1] == 0) and np.all(V.sum(axis=0) == 1)  # disjoint supports, a partition
    assert np.all(V @ A >= 1)  # each group covers every chunk
    assert np.all(A.T @ (V[0] * V[1]) == 0)  # the constraint, trivially
    assert np.allclose(V @ split.B, split.target, atol=1e-12)  # D_full B = T
    assert agc.optimal_error(split, np.arange(n)) <= 1e-9
    assert np.allclose(rhpnc_code(A, V).B, split.B)  # the RHPNC formula with indicator vectors


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 9), k=st.integers(2, 9), data=st.data())
def test_full_support_v2_solutions_have_dimension_n_minus_rank(n, k, data):
    """For v_1 with no zero entry, {v_2 : A^T(v_1 ∘ v_2) = 0} has dimension n − rank(A) (v ↦ v_1 ∘ v is invertible)."""
    bits = data.draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k))
    A = np.array(bits, dtype=np.int64).reshape(n, k)
    signs = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    v1 = signs * np.exp(np.array(data.draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n))))
    dimension = scipy.linalg.null_space(A.T * v1[None, :]).shape[1] if A.any() else n
    assert dimension == n - np.linalg.matrix_rank(A)


def test_rhpnc_code_scales_blocks_and_the_scale_changes_the_error(biregular):
    code = rhpnc(biregular, 2, seed=2)
    V = code.vectors
    rescaled = rhpnc_code(biregular, V * np.array([[1.0], [4.0]]))
    assert np.allclose(rescaled.B[:, :20], code.B[:, :20]) and np.allclose(rescaled.B[:, 20:], code.B[:, 20:] / 4)
    assert np.linalg.norm(rescaled.vectors @ rescaled.B - rescaled.target) <= 1e-9  # still exact
    masks = agc.failures.fixed_masks(40, 8, 200, seed=3)
    assert not np.allclose(agc.optimal_errors(rescaled, masks), agc.optimal_errors(code, masks), atol=1e-6)
