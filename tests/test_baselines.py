"""The baselines: stacking, the block split of the same assignment, and the block split over copies."""

import numpy as np
import pytest

import agc
from agc.encodings import block_split, block_split_copies, stacking

PAPER_INSTANCES = {
    "PG(2,9)": lambda: agc.assignments.projective_plane(9),
    "bi-regular 40x20": lambda: agc.assignments.random_biregular(40, 20, 3, seed=0),
    "SRG(126,25,8,4)": lambda: agc.assignments.graph_adjacency(agc.assignments.srg("johnson_fusion_126")),
}


@pytest.mark.parametrize("name", sorted(PAPER_INSTANCES))
def test_block_split_of_the_same_assignment_is_exact_with_no_straggler(name):
    A = PAPER_INSTANCES[name]()
    code = block_split(A, 2, time_limit=0.5)
    assert code.n == A.shape[0] and np.array_equal(code.assignment, A)  # same workers, same chunks, same load
    V = code.vectors
    assert set(np.unique(V)) == {0.0, 1.0} and np.all(V.sum(axis=0) == 1)  # a partition of the workers
    counts = V @ A
    assert counts.min() == code.params["coverage"] >= 1  # every chunk has a holder in every group
    assert np.allclose(V @ code.B, code.target, atol=1e-12)  # D_full B = T, independently of the engine
    assert agc.optimal_error(code, np.arange(code.n), normalized=True) < 1e-12
    # an RHPNC code with disjoint supports: the constraint A^T (v_1 ∘ v_2) = 0 holds trivially
    assert np.all(A.T @ (V[0] * V[1]) == 0)
    # each worker sends only its group's block, normalised over the group's holders of each chunk
    for j in range(code.n):
        u = int(np.argmax(V[:, j]))
        block = code.B[j].reshape(2, -1)
        assert np.all(block[1 - u] == 0)
        assert np.allclose(block[u][A[j] == 1], 1.0 / counts[u][A[j] == 1])


def test_block_split_maximises_the_coverage_on_a_small_instance():
    """Exhaustively on cyclic(8, 8, 4): every split of the 8 workers into 2 groups."""
    A = agc.assignments.cyclic(8, 8, 4)
    best = 0
    for bits in range(2 ** 7):  # worker 0 in group 0
        groups = np.array([0] + [(bits >> t) & 1 for t in range(7)])
        best = max(best, min(A[groups == u].sum(axis=0).min() for u in (0, 1)))
    code = block_split(A, 2)
    assert code.params["coverage"] == best == 2 and code.params["coverage_optimal"]


def test_block_split_is_refused_where_no_covering_split_exists():
    with pytest.raises(ValueError, match="no split of the 7 workers into 2 groups"):
        block_split(agc.assignments.projective_plane(2), 2)  # the Fano plane is not 2-colourable
    with pytest.raises(ValueError, match="chunk 0 has 3 holder"):
        block_split(agc.assignments.cyclic(9, 9, 3), 4)


def test_block_split_is_seeded():
    A = agc.assignments.random_biregular(40, 20, 3, seed=1)
    assert np.array_equal(block_split(A, 2, seed=4).vectors, block_split(A, 2, seed=4).vectors)


def test_block_split_over_copies_is_another_assignment_and_not_always_exact():
    A0 = agc.assignments.cyclic(45, 91, 10)
    code = block_split_copies(A0, 2)
    assert code.n == 90 and code.assignment.shape == (90, 91)
    everyone = agc.optimal_error(code, np.arange(code.n))
    # each block is exact only if 1 lies in the row space of A0; here it does not, by this much:
    per_block = np.linalg.lstsq(A0.T.astype(float), np.ones(91), rcond=None)[1][0]  # squared residual
    assert per_block > 0.1 and everyone == pytest.approx(2 * per_block, rel=1e-9)  # err* = 0.227 of k·ell = 182


def test_stacking_cannot_separate_the_blocks():
    A = agc.assignments.projective_plane(3)
    for ell in (2, 3):
        code = stacking(A, ell)
        assert agc.optimal_error(code, np.arange(code.n), normalized=True) == pytest.approx(1 - 1 / ell)
