r"""Lower bounds on the optimal error, for one code and for every scheme (book: *Lower bounds*)."""

from __future__ import annotations

import numpy as np

from agc._checks import check_int, mask_batch, survivor_mask
from agc.failures import failure_probabilities


def rank_lower_bounds(code, masks):
    r"""Per-pattern rank bound :math:`\sum_i (\ell - r_i(S))_+` for a batch of survivor masks.

    Returns an integer array of shape ``(m,)``; see :func:`rank_lower_bound`.

    Parameters
    ----------
    code : agc.Code
    masks : array_like of bool, shape (m, n)

    Returns
    -------
    numpy.ndarray of int, shape (m,)
    """
    masks = mask_batch(masks, code.n)
    holders = masks.astype(np.int64) @ code.assignment  # r_i(S), shape (m, k)
    return np.clip(code.ell - holders, 0, None).sum(axis=1)


def rank_lower_bound(code, survivors):
    r"""Rank lower bound on the optimal error of one survivor set, valid for *any* coefficients.

    .. math:: \mathrm{err}^*(S) \;\ge\; \sum_{i=1}^{k} \bigl(\ell - r_i(S)\bigr)_+ ,
              \qquad r_i(S) = |N(i) \cap S| .

    *Proof.* Group the columns of :math:`D B_S - T` by chunk: the ``ℓ`` columns of chunk ``i``
    form :math:`D B_S^{(i)} - I_\ell`, and :math:`B_S^{(i)}` has at most :math:`r_i(S)`
    non-zero rows, so :math:`D B_S^{(i)}` has rank at most :math:`\min(r_i(S), \ell)`. By
    Eckart–Young, :math:`\lVert X - I_\ell \rVert_F^2 \ge \ell - \operatorname{rank} X`; sum over
    chunks.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.

    Returns
    -------
    int

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.stacking(agc.assignments.cyclic(4, 4, 2), 2)
    >>> rank_lower_bound(code, [0, 1])  # chunk 3 has no survivor, chunks 0 and 2 have one
    4
    """
    mask = survivor_mask(survivors, code.n)
    return int(rank_lower_bounds(code, mask[None, :])[0])


def _capture_bound_regular(k, ell, s, replication, t):
    """``t · min(k, ⌊s / (γ - ℓ + t)⌋)`` for constant replication ``γ`` (all chunks if ``γ ≤ ℓ - t``)."""
    excess = replication - (ell - t)
    return t * (k if excess <= 0 else min(k, s // excess))


def _capture_bound_any(n, k, edges, ell, s, t):
    """Capture bound for every replication profile with ``edges`` edges (minimum over profiles)."""
    a = ell - t
    best = None
    for free in range(k + 1):  # chunks with replication <= a
        rest = k - free
        if rest * (a + 1) > edges or edges > free * a + rest * n:
            continue  # no profile has exactly this many free chunks
        captured = rest if rest == 0 else min(rest, (s * rest) // (edges - rest * a))
        value = t * (free + captured)
        best = value if best is None else min(best, value)
    return 0 if best is None else best


def worst_case_lower_bound(n, k, load, ell, s, *, replication=None, form="strong"):
    r"""Lower bound on :math:`\max_{|S| = n-s} \mathrm{err}^*(S)` valid for **every** scheme.

    Any scheme with ``n`` workers each holding ``load`` chunks of ``k``, communication
    reduction ``ell`` and ``s`` stragglers has a straggler set whose optimal error is at least
    the returned value. All forms rest on :func:`rank_lower_bound`:
    :math:`\mathrm{err}^*(S) \ge \sum_i (\ell - r_i(S))_+`.

    **Strong form** (``form="strong"``): the maximum of

    * *counting*: :math:`\sum_i (\ell - r_i)_+ \ge \sum_i (\ell - r_i) = k\ell - \mathrm{load}\,(n-s)`,
      true for *every* ``S``;
    * *capture*, for each :math:`t = 1, …, \ell` with :math:`a = \ell - t`: silence all but
      ``a`` holders of a chunk (cost :math:`(\gamma_i - a)_+` stragglers) and it contributes at
      least ``t``. Chunks with :math:`\gamma_i \le a` are free. With constant replication
      :math:`\gamma` (give ``replication``) the adversary captures
      :math:`\min(k, \lfloor s / (\gamma - \ell + t) \rfloor)` chunks, giving
      :math:`t \cdot \min(k, \lfloor s/(\gamma-\ell+t) \rfloor)`. For an arbitrary profile
      with :math:`E = n\,\mathrm{load}` edges, let ``f`` chunks be free; the other ``k - f``
      have mean replication at most :math:`E/(k-f)`, so the cheapest ``c`` of them cost at most
      :math:`c\,(E - (k-f)a)/(k-f)` and
      :math:`c = \min(k-f, \lfloor s (k-f) / (E - (k-f)a) \rfloor)` of them are captured. The
      bound is the minimum of :math:`t(f + c)` over every ``f`` that some profile allows
      (non-free chunks need :math:`\gamma_i \ge a+1`, and :math:`\gamma_i \le n`).

    **Paper form** (``form="paper"``): :math:`\max_t t \lfloor (s + \ell - t)/\gamma \rfloor`, as
    plotted by the authors' scripts, with :math:`\gamma = n\,\mathrm{load}/k`. For constant
    replication it never exceeds the capture term: :math:`c\gamma \le s + a` implies
    :math:`c(\gamma - a) \le s - (c-1)a \le s`. We prove it only for constant replication, so
    this form requires ``replication``.

    Parameters
    ----------
    n, k, load, ell, s : int
        Workers, chunks, chunks per worker, communication reduction, stragglers (``0 <= s < n``).
    replication : int, optional
        Restrict to schemes whose chunks all have this replication (checked:
        ``n·load = k·replication``).
    form : {"strong", "paper"}

    Returns
    -------
    int

    Examples
    --------
    >>> worst_case_lower_bound(9, 9, 3, 2, 4, replication=3)
    3
    >>> worst_case_lower_bound(9, 9, 3, 2, 4, replication=3, form="paper")
    2
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    ell = check_int("ell", ell, low=1)
    s = check_int("s", s, low=0, high=n - 1)
    if form not in ("strong", "paper"):
        raise ValueError(f"form must be 'strong' or 'paper', got {form!r}")
    if replication is not None:
        replication = check_int("replication", replication, low=1, high=n)
        if n * load != k * replication:
            raise ValueError(
                f"replication={replication} is impossible: n*load = {n * load} must equal k*replication = {k * replication}"
            )
    if form == "paper":
        if replication is None:
            raise ValueError("form='paper' is proved only for constant replication: give replication")
        return max(t * ((s + ell - t) // replication) for t in range(1, ell + 1))
    counting = max(k * ell - load * (n - s), 0)
    if replication is not None:
        capture = max(_capture_bound_regular(k, ell, s, replication, t) for t in range(1, ell + 1))
    else:
        capture = max(_capture_bound_any(n, k, n * load, ell, s, t) for t in range(1, ell + 1))
    return max(counting, capture)


def unbiased_expected_error(code, D_full, p):
    r"""Exact :math:`\mathbb{E}\lVert D B_S - T\rVert_F^2` of the unbiased fixed decoder under independent failures.

    Worker ``j`` fails independently with probability :math:`p_j` (``p`` itself when it is a
    number). With :math:`D = D_{\mathrm{full}}[:, S]\,\mathrm{diag}(1/(1-p_j))_{j\in S}`
    (:func:`agc.unbiased_decoder`) and survival indicators
    :math:`\xi_j \sim \mathrm{Bernoulli}(1-p_j)`, the deviation is
    :math:`\sum_j (\xi_j/(1-p_j) - 1)\, D_{\mathrm{full}}[:, j] B_{j,:}`, a sum of independent
    zero-mean terms of variances :math:`p_j/(1-p_j)` times the rank-one matrices
    :math:`D_{\mathrm{full}}[:, j] B_{j,:}`, whose squared Frobenius norms are
    :math:`\lVert D_{\mathrm{full}}[:, j]\rVert^2 \lVert B_{j,:}\rVert^2`; the cross terms
    vanish, hence

    .. math:: \mathbb{E}\lVert D B_S - T\rVert_F^2 = \sum_j \frac{p_j}{1-p_j}
              \lVert D_{\mathrm{full}}[:, j]\rVert^2 \lVert B_{j,:}\rVert^2 .

    This is an upper bound on :math:`\mathbb{E}\,\mathrm{err}^*(S)` (book: *Unbiasedness and
    convergence*, *Heterogeneous and bursty failures*).

    Parameters
    ----------
    code : agc.Code
    D_full : array_like, shape (ell, n)
        A decoder with :math:`D_{\mathrm{full}} B = T` (:func:`agc.fixed_decoder`).
    p : float or array_like of shape (n,)
        Failure probability in ``[0, 1)``, common or one per worker.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``D_full`` has the wrong shape, or ``p`` has the wrong length or an entry outside ``[0, 1)``.

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.block_split(agc.assignments.cyclic(4, 4, 2), 2)  # worker 0 sends g_0 + g_1
    >>> D_full = agc.fixed_decoder(code)
    >>> # only worker 0 fails: p/(1-p) = 1, |D_full[:, 0]|^2 = 1, |B_0|^2 = 2
    >>> round(unbiased_expected_error(code, D_full, [0.5, 0.0, 0.0, 0.0]), 12)
    2.0
    """
    p = failure_probabilities(code.n, p)
    D_full = np.asarray(D_full, dtype=np.float64)
    if D_full.shape != (code.ell, code.n):
        raise ValueError(f"D_full must have shape ({code.ell}, {code.n}), got {D_full.shape}")
    return float(np.sum(p / (1.0 - p) * np.sum(D_full**2, axis=0) * np.sum(code.B**2, axis=1)))
