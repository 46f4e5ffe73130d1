import numpy as np
import pytest
from conftest import gaussian_code

import agc
from agc.bounds import rank_lower_bounds


def test_rank_bound_below_optimal_error(small_codes):
    for code in small_codes:
        masks = agc.failures.bernoulli_masks(code.n, 0.5, 300, seed=1)
        assert np.all(rank_lower_bounds(code, masks) <= agc.optimal_errors(code, masks) + 1e-9)


def random_assignment(n, k, load, rng):
    """Constant load, irregular replication: each worker picks ``load`` chunks at random."""
    A = np.zeros((n, k), dtype=np.int64)
    for j in range(n):
        A[j, rng.choice(k, size=load, replace=False)] = 1
    return A


def exhaustive_worst_rank_bound(A, ell, s):
    code = agc.encodings.stacking(A, ell)
    return int(rank_lower_bounds(code, agc.failures.all_straggler_sets(A.shape[0], s)).max())


def test_worst_case_lower_bound_never_exceeds_exhaustive_worst_case():
    """Check the bound on small random assignments (irregular replication) and regular ones."""
    rng = np.random.default_rng(0)
    strictly_better, checked = 0, 0
    for _ in range(120):
        n, k = int(rng.integers(4, 10)), int(rng.integers(2, 8))
        load = int(rng.integers(1, k + 1))
        ell = int(rng.integers(1, 4))
        A = random_assignment(n, k, load, rng)
        for s in range(n):
            bound = agc.worst_case_lower_bound(n, k, load, ell, s)
            assert bound <= exhaustive_worst_rank_bound(A, ell, s), (A, ell, s, bound)
            checked += 1
    # regular replication: both forms, and the strong form dominates the paper's
    for n, k, load in [(6, 6, 2), (6, 6, 3), (8, 4, 2), (9, 9, 3), (10, 5, 2)]:
        A = agc.assignments.cyclic(n, k, load)
        replication = n * load // k
        for ell in (1, 2, 3):
            for s in range(n):
                strong = agc.worst_case_lower_bound(n, k, load, ell, s, replication=replication)
                paper = agc.worst_case_lower_bound(n, k, load, ell, s, replication=replication, form="paper")
                worst = exhaustive_worst_rank_bound(A, ell, s)
                assert paper <= strong <= worst
                strictly_better += strong > paper
    assert strictly_better > 0 and checked > 500


def test_worst_case_lower_bound_holds_for_optimal_error_of_real_codes():
    code = gaussian_code(agc.assignments.cyclic(9, 9, 3), 2, 3)
    for s in range(1, 6):
        worst = agc.worst_case(code, s, method="exhaustive").error
        assert agc.worst_case_lower_bound(9, 9, 3, 2, s) <= worst + 1e-9


def test_paper_form_needs_constant_replication():
    with pytest.raises(ValueError, match="replication"):
        agc.worst_case_lower_bound(6, 6, 2, 2, 1, form="paper")
    with pytest.raises(ValueError, match="replication=3 is impossible"):
        agc.worst_case_lower_bound(6, 6, 2, 2, 1, replication=3)
