r"""The baselines: the paper's vertical stacking and our block split of the same assignment.

Both appear in every comparison of the book (chapter *Gradient coding in one page* introduces them).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.sparse

from agc._checks import as_generator, check_binary_matrix, check_int
from agc.code import Code, check_size
from agc.seeds import seed_record


def stacking(A, ell):
    r"""The paper's baseline: every block gets the assignment's coefficients, :math:`B^{(u)} = A`.

    Worker ``j`` sends the plain sum of its chunks' ``ell`` blocks,
    :math:`f_j = \sum_u \sum_{i \in N(j)} g_i^{(u)}`. In the paper's orientation this is the
    ``ℓk × n`` matrix :math:`[A; A; \dots; A]`. The blocks cannot be told apart: with no
    straggler the optimal error is already :math:`k(\ell-1)` (normalised :math:`1 - 1/\ell`).

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
        Number of blocks, ``ell >= 1``.

    Returns
    -------
    agc.Code

    Examples
    --------
    >>> import agc
    >>> code = stacking(agc.assignments.cyclic(3, 3, 2), 2)
    >>> code.B.shape
    (3, 6)
    """
    A = check_binary_matrix("A", A)
    ell = check_size(*A.shape, ell)
    return Code(np.tile(A, (1, ell)).astype(np.float64), A, ell, name="stacking", params={"ell": ell})


def block_split(A, ell, seed=0, time_limit=2.0):
    r"""The fair baseline: ``A``'s workers split into ``ell`` groups, each covering every chunk; group ``u`` sends block ``u``.

    Same assignment, load and bytes as the other encodings on ``A``, and exact with no straggler
    (ours, beyond the paper). Worker ``j`` of group :math:`W_u` sends

    .. math:: f_j = \sum_{i \in N(j)} \frac{g_i^{(u)}}{|N(i) \cap W_u|},

    i.e. :math:`B^{(u)} = \operatorname{diag}(v_u) A \operatorname{diag}(c_u)` with
    :math:`v_u = 1_{W_u}` and :math:`c_u[i] = 1/|N(i) \cap W_u|`: an RHPNC code whose vectors have
    disjoint supports (:math:`A^\top(v_u \circ v_w) = 0` holds trivially). The fixed decoder
    :math:`D_{\mathrm{full}}[u, j] = [j \in W_u]` (``code.vectors``) gives :math:`D_{\mathrm{full}} B = T`.

    **The split.** Block ``u`` of chunk ``i`` is lost only when all :math:`|N(i) \cap W_u|` holders
    of the chunk in group ``u`` fail, so the split should make the smallest *coverage*
    :math:`t = \min_{i,u} |N(i) \cap W_u|` as large as possible (at most
    :math:`\lfloor \min_i \gamma_i / \ell \rfloor`); it is the strongest simple baseline on ``A``.
    A seeded local search (restarts, single-worker moves that lower
    :math:`\sum_{u,i} e^{-\beta |N(i) \cap W_u|}` for increasing :math:`\beta`) finds a split
    with coverage :math:`t_0`; then an integer program (``scipy.optimize.milp``, HiGHS) looks for a
    split with coverage :math:`t_0 + 1, t_0 + 2, \dots` within ``time_limit`` seconds each, and
    decides existence when the search found none. On the paper's instances at ``ell = 2``:
    coverage 3 of at most 5 on PG(2,9) (4 undecided in 10 s, 5 proved impossible), 3 of 3 on the
    40 × 20 bi-regular graph, 10 of 12 on SRG(126, 25, 8, 4).

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment; every chunk needs at least ``ell`` holders.
    ell : int
        Number of blocks and of groups.
    seed : int or numpy.random.Generator
        Seed of the local search.
    time_limit : float
        Seconds for each integer program. A program that reaches the limit undecided leaves the
        coverage as found so far (the result can then depend on the machine's speed; a
        decided program does not).

    Returns
    -------
    agc.Code
        ``name="block_split"``, ``n = A.shape[0]``; ``params`` holds ``ell``, ``coverage``,
        ``coverage_optimal`` (proved: equal to the bound, or one more proved impossible) and
        ``seed``; ``code.vectors`` holds the group indicators.

    Raises
    ------
    ValueError
        If a chunk has fewer than ``ell`` holders, or the integer program proves that no split
        covering every chunk in every group exists.
    RuntimeError
        If the search finds no covering split and the integer program decides nothing within
        ``time_limit``.

    Examples
    --------
    >>> import agc
    >>> code = block_split(agc.assignments.projective_plane(3), 2)  # PG(2,3): replication 4
    >>> (code.n, code.k, code.params["coverage"]), bool(np.allclose(code.vectors @ code.B, code.target))
    ((13, 13, 1), True)

    The Fano plane has no such split (it is not 2-colourable: the three lines through a point
    cover every point, and the other four lines then miss that point):

    >>> block_split(agc.assignments.projective_plane(2), 2)
    Traceback (most recent call last):
    ...
    ValueError: block_split: no split of the 7 workers into 2 groups covers every chunk in every group (proved ...)
    """
    A = check_binary_matrix("A", A)
    ell = check_size(*A.shape, ell)
    time_limit = float(time_limit)
    n = A.shape[0]
    replication = A.sum(axis=0)
    if replication.min() < ell:
        i = int(np.argmin(replication))
        raise ValueError(f"block_split: chunk {i} has {int(replication[i])} holder(s), fewer than ell={ell}: no split "
                         f"into {ell} groups can cover it in every group")
    groups, coverage, proved = _covering_split(A, ell, as_generator(seed), time_limit)
    V = np.zeros((ell, n))
    V[groups, np.arange(n)] = 1.0
    counts = V @ A  # (ell, k): holders of chunk i in group u
    B = np.hstack([V[u][:, None] * A / counts[u][None, :] for u in range(ell)])
    params = {"ell": ell, "coverage": coverage, "coverage_optimal": proved, "seed": seed_record(seed)}
    return Code(B, A, ell, name="block_split", params=params, vectors=V)


def _local_search(A, ell, rng, restarts=16, betas=(0.5, 1.0, 2.0, 4.0)):
    """Groups of a split with a large smallest coverage, by moves that lower an exponential potential."""
    n, k = A.shape
    holders = [np.flatnonzero(A[j]) for j in range(n)]
    best_key, best = None, None
    for _ in range(restarts):
        counts = np.zeros((ell, k))
        groups = np.empty(n, dtype=np.int64)
        for j in rng.permutation(n):  # greedy start: each worker to the group that needs its chunks most
            u = int(np.argmax(np.exp(-counts[:, holders[j]]).sum(axis=1) + 1e-9 * rng.random(ell)))
            groups[j] = u
            counts[u, holders[j]] += 1
        for beta in betas:
            improved = True
            while improved:
                improved = False
                for j in rng.permutation(n):
                    a, chunks = groups[j], holders[j]
                    leave = np.sum(np.exp(-beta * (counts[a, chunks] - 1)) - np.exp(-beta * counts[a, chunks]))
                    enter = np.sum(np.exp(-beta * (counts[:, chunks] + 1)) - np.exp(-beta * counts[:, chunks]), axis=1)
                    change = leave + enter
                    change[a] = 0.0
                    b = int(np.argmin(change))
                    if change[b] < -1e-12:
                        counts[a, chunks] -= 1
                        counts[b, chunks] += 1
                        groups[j] = b
                        improved = True
        key = (int(counts.min()), -int(np.sum(counts == counts.min())))
        if best_key is None or key > best_key:
            best_key, best = key, groups.copy()
    return best, best_key[0]


def _split_with_coverage(A, ell, t, time_limit):
    """An integer program: groups with coverage at least ``t``, ``None`` if infeasible, ``False`` if undecided."""
    n, k = A.shape
    one_group = scipy.sparse.kron(scipy.sparse.identity(n), np.ones((1, ell)))  # x[j, u] at j * ell + u
    cover = scipy.sparse.kron(scipy.sparse.csr_matrix(A.T.astype(np.float64)), scipy.sparse.identity(ell))
    first = scipy.sparse.csr_matrix(([1.0], ([0], [0])), shape=(1, n * ell))  # worker 0 in group 0: symmetry
    constraints = scipy.optimize.LinearConstraint(
        scipy.sparse.vstack([one_group, cover, first]).tocsr(),
        np.r_[np.ones(n), np.full(k * ell, t), 1.0], np.r_[np.ones(n), np.full(k * ell, np.inf), 1.0])
    result = scipy.optimize.milp(np.zeros(n * ell), integrality=np.ones(n * ell), bounds=scipy.optimize.Bounds(0, 1),
                                 constraints=constraints, options={"time_limit": time_limit, "presolve": True})
    if result.status == 2:
        return None
    if result.x is None:
        return False
    return np.argmax(np.round(result.x).reshape(n, ell), axis=1)


def _covering_split(A, ell, rng, time_limit):
    """Groups, their smallest coverage, and whether that coverage is proved the largest possible."""
    n, _ = A.shape
    bound = int((A.sum(axis=0) // ell).min())
    if ell == 1:
        return np.zeros(n, dtype=np.int64), bound, True
    groups, coverage = _local_search(A, ell, rng)
    while coverage < bound:
        found = _split_with_coverage(A, ell, coverage + 1, time_limit)
        if found is None:  # proved impossible
            break
        if found is False:  # undecided within the time limit
            if coverage == 0:
                raise RuntimeError(f"block_split: no covering split found, and none proved impossible within "
                                   f"time_limit={time_limit} s")
            return groups, coverage, False
        groups, coverage = found, int(min(A[found == u].sum(axis=0).min() for u in range(ell)))
    if coverage == 0:
        raise ValueError(f"block_split: no split of the {n} workers into {ell} groups covers every chunk in every "
                         "group (proved by an integer program)")
    return groups, coverage, True


def block_split_copies(A0, ell):
    r"""Block split over copies: ``ell`` groups of workers, each a copy of ``A0``; group ``u`` sends block ``u`` only.

    Worker ``j`` of group ``u`` (row ``u·n0 + j``) sends :math:`\sum_{i \in N_0(j)} g_i^{(u)}`: ``n = ell·n0``
    workers on the assignment ``A0`` stacked ``ell`` times, a *different* assignment from ``A0``.
    It is exact with no straggler only when :math:`1 \in \operatorname{rowspace}(A_0)`: for
    ``cyclic(45, 91, 10)`` the optimal error with every worker alive is already 0.227 (of
    :math:`k\ell = 182`). To compare codes on one assignment use :func:`block_split`.

    Parameters
    ----------
    A0 : array_like, shape (n0, k)
        0/1 assignment of one group.
    ell : int
        Number of blocks (and of groups).

    Returns
    -------
    agc.Code
        ``n = ell·n0`` workers, assignment ``A0`` stacked ``ell`` times.

    Examples
    --------
    >>> import agc
    >>> code = block_split_copies(agc.assignments.cyclic(3, 3, 2), 2)
    >>> (code.n, code.k, code.ell)
    (6, 3, 2)
    """
    A0 = check_binary_matrix("A0", A0)
    ell = check_size(A0.shape[0] * check_int("ell", ell, low=1), A0.shape[1], ell)
    n0, k = A0.shape
    B = np.zeros((ell * n0, ell * k))
    for u in range(ell):
        B[u * n0:(u + 1) * n0, u * k:(u + 1) * k] = A0
    return Code(B, np.tile(A0, (ell, 1)), ell, name="block_split_copies", params={"ell": ell})
