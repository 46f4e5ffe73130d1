import time

import numpy as np
import pytest
from conftest import unbiased_estimates

import agc
from agc.encodings import iid_gaussian, rdm, rhpnc
from agc.stats import z_scores


def constructions():
    """Every randomised encoding, as ``(label, function of (A, ell, seed))``."""
    return [
        ("rdm", lambda A, ell, seed: rdm(A, ell, seed)),
        ("rdm-gaussian", lambda A, ell, seed: rdm(A, ell, seed, dist="gaussian")),
        ("rhpnc-gaussian", lambda A, ell, seed: rhpnc(A, ell, seed)),
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
    with pytest.raises(ValueError, match="variant must be 'gaussian' or 'pm1', got 'binary'"):
        rhpnc(A, 2, variant="binary")
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
    # n <= (ell - 1) k: the projective plane PG(2,3) is square and non-singular
    plane = agc.assignments.projective_plane(3)
    with pytest.raises(ValueError, match=r"n > \(ell-1\)\*k = 13 \(here n=13, k=13, ell=2\)"):
        rhpnc(plane, 2)
    with pytest.raises(ValueError, match="rank\\(A\\) = n = 13"):
        rhpnc(plane, 2, variant="pm1")
    with pytest.raises(ValueError, match=r"n > \(ell-1\)\*k = 40"):
        rhpnc(A, 3)  # 40 workers, (ell-1)k = 40 constraints: v_3 = 0


def test_pm1_infeasibility_is_proved_by_the_integer_program():
    # chunks 0-2 form a triangle on workers 0-2 (an odd cycle of "opposite sign" constraints);
    # workers 3 and 4 share chunk 3. Replication 2 everywhere and rank(A) = 4 < n = 5.
    A = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="integer program proves"):
        rhpnc(A, 2, variant="pm1")


@pytest.mark.parametrize("variant", ["gaussian", "pm1"])
@pytest.mark.parametrize("ell", [2, 3, 4])
def test_rhpnc_is_exact_without_stragglers(variant, ell, biregular):
    A = biregular if ell == 2 else agc.assignments.random_biregular(40, 10, 2, seed=1)  # replication 6 or 8
    code = rhpnc(A, ell, seed=3, variant=variant)
    V = code.vectors
    assert np.linalg.norm(V @ code.B - code.target) / np.sqrt(code.k * ell) <= 1e-9
    assert agc.optimal_error(code, np.arange(code.n)) / (code.k * ell) <= 1e-9
    if variant == "pm1":
        assert set(np.unique(V)) == {-1.0, 1.0} and np.all(V[0] == 1)
        products = V[:, None, :] * V[None, :, :]
        assert np.all(products[~np.eye(ell, dtype=bool)] @ A == 0)  # balanced on every chunk


def test_rhpnc_pm1_is_fast_on_the_papers_bipartite_graph(biregular):
    start = time.perf_counter()
    rhpnc(biregular, 2, seed=0, variant="pm1")
    assert time.perf_counter() - start < 5.0


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
