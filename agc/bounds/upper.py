r"""Upper bounds (and exact formulas) for the optimal error of the constructions (book: the chapters on each construction).

Every bound rests on one identity. With :math:`K = B_S B_S^\top` (the survivors' Gram matrix)
and :math:`M = B T^\top` (``n × ℓ``; :math:`M_{ju}` is the sum of worker ``j``'s coefficients
in block ``u``), the error of a decoder ``D`` is

.. math:: \mathrm{err}(S, D) = \lVert D B_S - T\rVert_F^2
          = \operatorname{tr}(D K D^\top) - 2 \operatorname{tr}(D M_S) + k\ell ,

and the optimal error is :math:`\mathrm{err}^*(S) = k\ell - \operatorname{tr}(M_S^\top K^+ M_S)`,
the target's energy :math:`k\ell` less the *recovered energy*. An upper bound on
:math:`\mathrm{err}^*` is the error of any explicit decoder, or ``kℓ`` less any lower bound on the
recovered energy. Notation: ``m = |S|`` survivors, :math:`m_i = |N(i) \cap S|` survivors
holding chunk ``i``, ``load`` :math:`\delta_j`, and ``λ`` the number of chunks two workers share.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from scipy.special import gammaln

from agc._checks import check_binary_matrix, check_int, exactly_one, mask_batch, survivor_mask
from agc.assignments import graph_adjacency, srg_parameters
from agc.code import Code

#: Largest number of sign-pattern counts :func:`rdm_bibd_expected_error` enumerates.
MAX_TERMS = 2_000_000


def _survivors(s, n):
    """``m = |S| = n - s`` after checking the number of stragglers ``0 <= s <= n``."""
    return n - check_int("s", s, low=0, high=n)


def _sign_constant(dist, ell):
    """``c`` in the RDM decoder bound: ``ell - 1`` for Rademacher signs, ``ell + 1`` for Gaussian."""
    if dist == "rademacher":
        return ell - 1
    if dist == "gaussian":
        return ell + 1
    raise ValueError(f"dist must be 'rademacher' or 'gaussian', got {dist!r}")


def _constant_intersection(A):
    r"""``(load, λ)`` when every worker holds ``load >= 1`` chunks and every two share ``λ``; else raise."""
    A = check_binary_matrix("A", A)
    n = A.shape[0]
    if n < 2:
        raise ValueError(f"A must have at least 2 workers (rows) to define the pairwise intersection, got n={n}")
    gram = A @ A.T
    loads = np.diag(gram)
    if loads.min() != loads.max() or loads[0] < 1:
        raise ValueError(
            f"A must have a constant load >= 1 (row weight); got loads in [{loads.min()}, {loads.max()}]"
        )
    off = gram[~np.eye(n, dtype=bool)]
    if off.min() != off.max():
        raise ValueError(
            f"A must have a constant pairwise intersection (A A^T = (load - λ) I + λ J, e.g. a symmetric BIBD); "
            f"two workers share between {off.min()} and {off.max()} chunks"
        )
    return int(loads[0]), int(off[0])


def stacking_bibd_error(A, ell, s):
    r"""Exact optimal error of the stacking baseline when every two workers share ``λ`` chunks.

    .. math:: \mathrm{err}^*(S) = k\ell - \frac{\delta^2 |S|}{(\delta - \lambda) + \lambda |S|}
              \qquad \text{for every } S \text{ of that size.}

    *Hypothesis* (checked): :math:`A A^\top = (\delta - \lambda) I + \lambda J` — constant load
    :math:`\delta \ge 1` and constant pairwise intersection :math:`\lambda`. Every symmetric BIBD
    (blocks = workers, e.g. ``PG(2, q)`` with :math:`\delta = q+1`, :math:`\lambda = 1`) has it.

    *Derivation.* :func:`agc.encodings.stacking` has :math:`B_S = 1_\ell^\top \otimes A_S`, so
    the row space of :math:`B_S` is :math:`\{[x, …, x] : x \in \operatorname{rowspace}(A_S)\}`.
    In the notation of the module, :math:`K = \ell A_S A_S^\top` and
    :math:`M_S = \delta\, 1_{|S|} 1_\ell^\top`, so the recovered energy is

    .. math:: \operatorname{tr}(M_S^\top K^+ M_S) = \ell \delta^2\, 1^\top (\ell A_S A_S^\top)^+ 1
              = \delta^2\, 1^\top \bigl((\delta-\lambda) I + \lambda J\bigr)^+ 1
              = \frac{\delta^2 |S|}{(\delta - \lambda) + \lambda |S|},

    because :math:`1_{|S|}` is an eigenvector with eigenvalue :math:`(\delta-\lambda)+\lambda|S| > 0`.
    Only :math:`|S|` enters. With no straggler on ``PG(2, q)`` (:math:`|S| = n = q^2+q+1`) this is
    :math:`k(\ell - 1)`: one block's worth is recovered.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment with constant load and constant pairwise intersection.
    ell : int
        Communication reduction.
    s : int
        Stragglers, ``0 <= s <= n``; :math:`|S| = n - s`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the hypothesis fails or ``s`` is out of range.

    Examples
    --------
    >>> import agc
    >>> A = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])  # PG(2,1)-like: every pair shares 1
    >>> stacking_bibd_error(A, 2, 0)
    3.0
    >>> agc.optimal_error(agc.encodings.stacking(A, 2), [0, 1, 2])
    3.0
    """
    delta, lam = _constant_intersection(A)
    k = np.asarray(A).shape[1]
    ell = check_int("ell", ell, low=1)
    m = _survivors(s, np.asarray(A).shape[0])
    if m == 0:
        return float(k * ell)
    return float(k * ell - delta**2 * m / ((delta - lam) + lam * m))


def rdm_pattern_bounds(A, ell, masks, dist="rademacher"):
    r"""Batched :func:`rdm_pattern_bound`: one bound per row of ``masks`` (shape ``(m, n)``).

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
    masks : array_like of bool, shape (m, n)
    dist : {"rademacher", "gaussian"}

    Returns
    -------
    numpy.ndarray, shape (m,)
    """
    A = check_binary_matrix("A", A)
    ell = check_int("ell", ell, low=1)
    c = _sign_constant(dist, ell)
    n, k = A.shape
    masks = mask_batch(masks, n)
    loads = A.sum(axis=1).astype(np.float64)
    bounds = np.empty(masks.shape[0])
    for t, mask in enumerate(masks):
        A_S = A[mask].astype(np.float64)
        # min_beta ||A_S^T beta - 1||^2 + c * sum_j load_j beta_j^2, as one least-squares problem
        design = np.vstack([A_S.T, np.diag(np.sqrt(c * loads[mask]))])
        rhs = np.concatenate([np.ones(k), np.zeros(A_S.shape[0])])
        beta, *_ = np.linalg.lstsq(design, rhs, rcond=None)
        bounds[t] = ell * float(np.sum((design @ beta - rhs) ** 2))
    return bounds


def rdm_pattern_bound(A, ell, survivors, dist="rademacher"):
    r"""Bound on the sign-averaged optimal error of :func:`agc.encodings.rdm` for one survivor set, any ``A``.

    .. math:: \mathbb{E}_r\, \mathrm{err}^*(S) \le \ell \min_{\beta \in \mathbb{R}^{S}}
              \Bigl[\, \lVert A_S^\top \beta - 1_k \rVert^2 + c \sum_{j \in S} \delta_j \beta_j^2 \Bigr]
              \;\le\; \ell \Bigl[k - \frac{P^2}{Q + cP}\Bigr],

    with :math:`c = \ell - 1` for Rademacher signs, :math:`c = \ell + 1` for Gaussian weights,
    :math:`P = \sum_i m_i` and :math:`Q = \sum_i m_i^2 = 1_S^\top A A^\top 1_S`. The function
    returns the first (tighter) expression; the second is its value at a constant
    :math:`\beta = \alpha 1`, :math:`\alpha = P/(Q + cP)`, and is what
    :func:`rdm_expected_error_bound`, :func:`rdm_average_bound` and :func:`rdm_srg_bound` make
    explicit.

    *Derivation.* Take the sign-dependent decoder :math:`D[u, j] = \beta_j r_u[j]`. Then
    :math:`(D B_S)_{u, wk+i} = \sum_{j \in S \cap N(i)} \beta_j r_u[j] r_w[j]`, whose target is
    :math:`[u = w]`. For :math:`u = w` and signs :math:`\pm 1` it equals
    :math:`\sum_{j \in S\cap N(i)} \beta_j` (deterministic); for :math:`u \ne w` the products
    :math:`r_u[j] r_w[j]` are independent signs, so its mean square is
    :math:`\sum_{j \in S \cap N(i)} \beta_j^2`. Summing over ``u, w, i`` (each worker ``j`` lies
    in :math:`\delta_j` sets :math:`N(i)`),

    .. math:: \mathbb{E}_r\, \mathrm{err}(S, D) = \ell \sum_i \Bigl(\sum_{j \in S \cap N(i)} \beta_j - 1\Bigr)^2
              + \ell(\ell - 1) \sum_{j \in S} \delta_j \beta_j^2 .

    For Gaussian weights the diagonal term gains :math:`2\sum \beta_j^2` (the variance of
    :math:`r^2` is 2), giving :math:`c = \ell + 1`. Since :math:`\mathrm{err}^* \le \mathrm{err}(S, D)`
    for every draw and :math:`\beta` does not depend on the signs, the expectation bound
    follows; minimising over :math:`\beta` is a ridge regression. For ``ell = 1`` (Rademacher,
    ``c = 0``) it is exact: row signs do not change the row space.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
        Communication reduction.
    survivors : array_like
        Index array or boolean mask of length ``n``.
    dist : {"rademacher", "gaussian"}
        The distribution of :func:`agc.encodings.rdm`'s weights.

    Returns
    -------
    float

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(6, 6, 3)
    >>> bound = rdm_pattern_bound(A, 2, [0, 1, 2, 3, 4])
    >>> errors = [agc.optimal_error(agc.encodings.rdm(A, 2, seed=t), [0, 1, 2, 3, 4]) for t in range(200)]
    >>> bool(np.mean(errors) <= bound)
    True
    """
    A = check_binary_matrix("A", A)
    mask = survivor_mask(survivors, A.shape[0])
    return float(rdm_pattern_bounds(A, ell, mask[None, :], dist)[0])


def _decoder_bound(k, ell, P, Q, c):
    """``ell * (k - P^2 / (Q + c P))``, and ``k * ell`` when nothing survives."""
    return float(k * ell) if P == 0 else float(ell * (k - P**2 / (Q + c * P)))


def rdm_expected_error_bound(A, ell, s, dist="rademacher"):
    r"""Sign-averaged bound for :func:`agc.encodings.rdm` when every two workers share ``λ`` chunks.

    .. math:: \mathbb{E}_r\, \mathrm{err}^*(S) \le k\ell - \frac{\ell \delta^2 |S|}{(\ell\delta - \lambda) + \lambda |S|}
              \quad \text{(Rademacher)}, \qquad
              k\ell - \frac{\ell \delta^2 |S|}{((\ell+2)\delta - \lambda) + \lambda |S|}
              \quad \text{(Gaussian)},

    for **every** survivor set of that size. *Hypothesis* (checked): constant load
    :math:`\delta \ge 1` and constant pairwise intersection :math:`\lambda`
    (:math:`AA^\top = (\delta - \lambda) I + \lambda J`; every symmetric BIBD).

    *Derivation.* In :func:`rdm_pattern_bound` take :math:`\beta = \alpha 1`:
    :math:`P = \sum_i m_i = \delta |S|` and
    :math:`Q = \sum_i m_i^2 = 1_S^\top AA^\top 1_S = \delta|S| + \lambda |S|(|S|-1)`, so
    :math:`\ell(k - P^2/(Q + cP))` is the formula above (``c = ℓ - 1`` or ``ℓ + 1``). The
    Rademacher form is the paper's: it is also what Cauchy–Schwarz
    (:math:`r^\top K^{-1} r \ge (r^\top r)^2 / r^\top K r`) and Jensen
    (:math:`\mathbb{E}[1/X] \ge 1/\mathbb{E}X`) give. It is tight for ``ell = 1``, where it
    equals :func:`stacking_bibd_error`. The exact expectation is
    :func:`rdm_bibd_expected_error`.

    Parameters
    ----------
    A : array_like, shape (n, k)
    ell : int
    s : int
        Stragglers, ``0 <= s <= n``; :math:`|S| = n - s`.
    dist : {"rademacher", "gaussian"}

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``A`` has a non-constant load or pairwise intersection, or ``dist`` is unknown.

    Examples
    --------
    >>> A = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> round(rdm_expected_error_bound(A, 2, 0), 10)  # 6 - 2*4*3/((4-1)+3)
    2.0
    """
    delta, lam = _constant_intersection(A)
    n, k = np.asarray(A).shape
    ell = check_int("ell", ell, low=1)
    c = _sign_constant(dist, ell)
    m = _survivors(s, n)
    return _decoder_bound(k, ell, delta * m, delta * m + lam * m * (m - 1), c)


def rdm_average_bound(A, ell, s, dist="rademacher"):
    r"""Bound on :func:`agc.encodings.rdm`'s error averaged over signs **and** uniform survivor sets of one size.

    .. math:: \mathbb{E}_{S}\mathbb{E}_r\, \mathrm{err}^*(S) \le \ell\Bigl[k - \frac{\bar P^2}{\bar Q + c \bar P}\Bigr],
              \qquad \bar P = \frac{m}{n}\sum_j \delta_j, \quad
              \bar Q = \frac{m}{n} \operatorname{tr} G + \frac{m(m-1)}{n(n-1)} \bigl(1^\top G 1 - \operatorname{tr} G\bigr),

    for any assignment, with :math:`G = AA^\top`, ``m = n - s`` survivors and ``c`` as in
    :func:`rdm_pattern_bound`.

    *Derivation.* :func:`rdm_pattern_bound` gives
    :math:`\mathbb{E}_r \mathrm{err}^*(S) \le \ell(k - h(P_S, Q_S))` with
    :math:`h(P, Q) = P^2/(Q + cP)`, a quadratic-over-linear function of an affine map, hence
    jointly convex. Jensen over the uniform ``S``:
    :math:`\mathbb{E}\,h(P_S, Q_S) \ge h(\mathbb{E}P_S, \mathbb{E}Q_S)`, and
    :math:`\bar P = \mathbb{E} P_S`, :math:`\bar Q = \mathbb{E}\, 1_S^\top G 1_S` by linearity
    (a worker survives with probability ``m/n``, a pair with :math:`m(m-1)/(n(n-1))`). For
    constant intersection it equals :func:`rdm_expected_error_bound`.

    Parameters
    ----------
    A : array_like, shape (n, k)
    ell : int
    s : int
        Stragglers, ``0 <= s <= n``.
    dist : {"rademacher", "gaussian"}

    Returns
    -------
    float

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(8, 8, 3)
    >>> est = np.mean([agc.expected_error(agc.encodings.rdm(A, 2, seed=t), s=2, exact=True).mean for t in range(50)])
    >>> bool(est <= rdm_average_bound(A, 2, 2))
    True
    """
    A = check_binary_matrix("A", A)
    n, k = A.shape
    ell = check_int("ell", ell, low=1)
    c = _sign_constant(dist, ell)
    m = _survivors(s, n)
    gram = A @ A.T
    trace, total = float(np.trace(gram)), float(gram.sum())
    pairs = m * (m - 1) / (n * (n - 1)) if n > 1 else 0.0
    P = m / n * float(A.sum())
    Q = m / n * trace + pairs * (total - trace)
    return _decoder_bound(k, ell, P, Q, c)


def _srg_adjacency(graph):
    """Adjacency matrix and ``(κ, λ, μ)`` of a strongly regular graph (checked by :func:`agc.assignments.srg_parameters`)."""
    A = graph_adjacency(graph) if isinstance(graph, nx.Graph) else check_binary_matrix("graph", graph)
    _, kappa, lam, mu = srg_parameters(A)
    return A, (kappa, lam, mu)


def rdm_srg_bound(graph, ell, s=None, *, survivors=None, over="average", dist="rademacher"):
    r"""Sign-averaged bound for :func:`agc.encodings.rdm` on the adjacency assignment of a strongly regular graph.

    Workers and chunks are the ``n`` vertices; worker ``j`` holds the chunks of its ``κ``
    neighbours. From :math:`A^2 = \kappa I + \lambda A + \mu(J - I - A)`, two workers share
    ``λ`` chunks when adjacent and ``μ`` when not, so with ``m = |S|`` and ``e(S)`` the number
    of edges inside ``S``, :math:`P = \kappa m` and
    :math:`Q = 1_S^\top A^2 1_S = \kappa m + \mu m(m-1) + 2(\lambda - \mu) e(S)`. The decoder bound
    of :func:`rdm_pattern_bound` becomes

    .. math:: \mathbb{E}_r\, \mathrm{err}^*(S) \le g(e(S)) = k\ell -
              \frac{\ell \kappa^2 m}{(1+c)\kappa - \mu + \mu m + 2(\lambda-\mu)\, e(S)/m},

    (``c = ℓ - 1`` Rademacher, ``ℓ + 1`` Gaussian; ``k = n``). Three forms:

    * ``survivors`` given: :math:`g(e(S))` for that set.
    * ``over="average"`` (with ``s``, so ``m = n - s``): bound on the average over uniform sets of
      size ``m``: ``g`` is concave in ``e``, so by Jensen
      :math:`\mathbb{E}_S\, g(e(S)) \le g(\mathbb{E} e(S))`,
      :math:`\mathbb{E}e(S) = \kappa m(m-1)/(2(n-1))` (equals :func:`rdm_average_bound`).
    * ``over="worst"``: bound for *every* set of size ``m``: ``g`` is monotone in ``e`` (increasing
      when :math:`\lambda > \mu`), so evaluate it at the extreme possible ``e``. Writing
      :math:`1_S = \tfrac{m}{n}1 + w`, :math:`w \perp 1`,
      :math:`2e(S) = 1_S^\top A 1_S \in \kappa m^2/n + [\theta_{\min}, \theta_1]\, m(1 - m/n)`
      (:math:`\theta_1, \theta_{\min}` the second-largest and smallest adjacency eigenvalues),
      and, since :math:`2e(S) = \kappa(2m - n) + 2e(\bar S)` with :math:`0 \le 2e(\bar S) \le
      \min((n-m)(n-m-1), \kappa(n-m))`, also :math:`\max(0, \kappa(2m-n)) \le 2e(S) \le
      \min(m(m-1), \kappa m, \kappa(2m-n) + \min((n-m)(n-m-1), \kappa(n-m)))`.

    Parameters
    ----------
    graph : networkx.Graph or array_like, shape (n, n)
        A strongly regular graph (checked: regular, constant ``λ`` and ``μ``), or its adjacency
        matrix; a graph is converted with :func:`agc.assignments.graph_adjacency`, so worker ``j``
        is the ``j``-th node in that order.
    ell : int
    s : int, optional
        Stragglers (``m = n - s``) for ``over="average"`` or ``"worst"``.
    survivors : array_like, optional
        One survivor set (index array or mask); give exactly one of the two.
    over : {"average", "worst"}
    dist : {"rademacher", "gaussian"}

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the graph is not strongly regular, or the arguments are inconsistent.

    Examples
    --------
    >>> import networkx as nx
    >>> petersen = nx.to_numpy_array(nx.petersen_graph(), dtype=int)
    >>> rdm_srg_bound(petersen, 2, 0)  # no straggler: 2(10 - 30²/(90 + 30))
    5.0
    """
    A, (kappa, lam, mu) = _srg_adjacency(graph)
    n = A.shape[0]
    ell = check_int("ell", ell, low=1)
    c = _sign_constant(dist, ell)
    exactly_one(s=s, survivors=survivors)
    if over not in ("average", "worst"):
        raise ValueError(f"over must be 'average' or 'worst', got {over!r}")
    if survivors is not None:
        mask = survivor_mask(survivors, n)
        m = int(mask.sum())
        edges = float(mask @ A @ mask) / 2
    else:
        m = _survivors(s, n)
        if over == "average":
            edges = kappa * m * (m - 1) / (2 * (n - 1))
        elif lam == mu:
            edges = 0.0  # g does not depend on e
        else:
            eigenvalues = np.linalg.eigvalsh(A.astype(np.float64))
            spread = m * (1 - m / n)
            outside = kappa * (2 * m - n)  # 2e(S) = κ(2m - n) + 2e(complement)
            if lam > mu:
                twice = min(kappa * m**2 / n + eigenvalues[-2] * spread, m * (m - 1), kappa * m,
                            outside + min((n - m) * (n - m - 1), kappa * (n - m)))
                edges = math.floor(twice / 2 + 1e-9)
            else:
                twice = max(kappa * m**2 / n + eigenvalues[0] * spread, outside, 0)
                edges = math.ceil(twice / 2 - 1e-9)
    return _decoder_bound(n, ell, kappa * m, kappa * m + mu * m * (m - 1) + 2 * (lam - mu) * edges, c)


def _check_signs(signs):
    signs = np.asarray(signs, dtype=np.float64)
    if signs.ndim != 2 or not np.all(np.abs(signs) == 1):
        raise ValueError(f"signs must be an (ell, n) array of ±1 (Rademacher rdm), got shape {signs.shape}")
    return signs


def _eigen_energy(delta, lam, ell, eigenvalues):
    r"""``δ² Σ f(σ²)``, :math:`f(x) = x/((\delta-\lambda)\ell + \lambda x)` and ``f = 0`` where the denominator vanishes."""
    denominator = (delta - lam) * ell + lam * eigenvalues
    safe = denominator > 0
    ratio = np.divide(eigenvalues, denominator, out=np.zeros_like(eigenvalues), where=safe)
    return delta**2 * ratio.sum(axis=-1)


def rdm_bibd_error(A, signs, survivors):
    r"""Exact optimal error of a Rademacher :func:`agc.encodings.rdm` code when every two workers share ``λ`` chunks.

    .. math:: \mathrm{err}^*(S) = k\ell - \delta^2 \sum_{t=1}^{\ell}
              \frac{\sigma_t^2}{(\delta - \lambda)\ell + \lambda \sigma_t^2},

    where :math:`\sigma_t^2` are the eigenvalues of the ``ℓ × ℓ`` Gram matrix :math:`V_S^\top V_S`
    of the signs restricted to the survivors (:math:`V_S[j, u] = r_u[j]`, :math:`j \in S`).

    *Derivation.* :math:`K = B_S B_S^\top = (A_S A_S^\top) \circ (V_S V_S^\top)`; with
    :math:`A_S A_S^\top = (\delta - \lambda)I + \lambda J` and a unit diagonal
    :math:`(V_S V_S^\top)_{jj} = \ell`, :math:`K = (\delta - \lambda)\ell I + \lambda V_S V_S^\top`;
    and :math:`M_S = \delta V_S`. The recovered energy
    :math:`\delta^2 \operatorname{tr}(V_S^\top K^+ V_S)` diagonalises in the SVD of :math:`V_S`.
    Since :math:`\sum_t \sigma_t^2 = \ell|S|` and :math:`f(x) = x/((\delta-\lambda)\ell + \lambda x)`
    is concave, every sign draw has
    :math:`\mathrm{err}^*(S) \ge k\ell - \ell\delta^2|S| / ((\delta-\lambda)\ell + \lambda|S|)`,
    with equality when the sign vectors are orthogonal on ``S``.

    Parameters
    ----------
    A : array_like, shape (n, k)
        Constant load and constant pairwise intersection (checked).
    signs : array_like, shape (ell, n)
        The ±1 signs, e.g. ``code.vectors``.
    survivors : array_like
        Index array or boolean mask.

    Returns
    -------
    float

    Examples
    --------
    >>> import agc
    >>> A = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> code = agc.encodings.rdm(A, 2, seed=3)
    >>> bool(np.isclose(rdm_bibd_error(A, code.vectors, [0, 2]), agc.optimal_error(code, [0, 2])))
    True
    """
    delta, lam = _constant_intersection(A)
    n, k = np.asarray(A).shape
    signs = _check_signs(signs)
    if signs.shape[1] != n:
        raise ValueError(f"signs must have n={n} columns, got shape {signs.shape}")
    ell = signs.shape[0]
    mask = survivor_mask(survivors, n)
    V = signs[:, mask]
    eigenvalues = np.clip(np.linalg.eigvalsh(V @ V.T), 0.0, None)
    return float(k * ell - _eigen_energy(delta, lam, ell, eigenvalues))


def _compositions(total, parts):
    """All vectors of ``parts`` non-negative integers summing to ``total`` (one per row)."""
    if parts == 1:
        return np.array([[total]], dtype=np.int64)
    blocks = [np.hstack([np.full((rest.shape[0], 1), first), rest])
              for first in range(total + 1) for rest in [_compositions(total - first, parts - 1)]]
    return np.vstack(blocks)


def rdm_bibd_expected_error(A, ell, s, max_terms=MAX_TERMS):
    r"""Exact sign-average of :func:`rdm_bibd_error`: :math:`\mathbb{E}_r\,\mathrm{err}^*(S)` for Rademacher RDM.

    Row ``j`` of :math:`V_S` contributes :math:`v_j v_j^\top` to :math:`V_S^\top V_S`, and
    :math:`v_j v_j^\top` depends only on the class of :math:`v_j \in \{\pm 1\}^\ell` up to a global
    sign: one of :math:`P = 2^{\ell-1}` patterns :math:`p`, each with probability :math:`1/P`,
    independently over ``j``. Hence :math:`V_S^\top V_S = \sum_p N_p\, p p^\top` with
    :math:`N \sim \mathrm{Multinomial}(|S|; 1/P, …, 1/P)`, and the expectation is a finite sum
    over the :math:`\binom{|S| + P - 1}{P - 1}` count vectors. For ``ell = 2`` it reduces to

    .. math:: \mathbb{E}_r\,\mathrm{err}^*(S) = 2k - 2\delta^2\, \mathbb{E}\Bigl[\frac{X}{(\delta-\lambda) + \lambda X}\Bigr],
              \qquad X \sim \mathrm{Bin}(|S|, 1/2),

    since the eigenvalues are :math:`2X` and :math:`2(|S| - X)`.

    Parameters
    ----------
    A : array_like, shape (n, k)
        Constant load and pairwise intersection (checked).
    ell : int
    s : int
        Stragglers, ``0 <= s <= n``.
    max_terms : int
        Refuse (``ValueError``) when more count vectors than this would be enumerated.

    Returns
    -------
    float

    Examples
    --------
    >>> A = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> round(rdm_bibd_expected_error(A, 2, 0), 10)  # 6 - 8 E[X/(1+X)], X ~ Bin(3, 1/2)
    1.75
    """
    delta, lam = _constant_intersection(A)
    n, k = np.asarray(A).shape
    ell = check_int("ell", ell, low=1)
    m = _survivors(s, n)
    max_terms = check_int("max_terms", max_terms, low=1)
    parts = 2 ** (ell - 1)
    terms = math.comb(m + parts - 1, parts - 1)
    if terms > max_terms:
        raise ValueError(
            f"rdm_bibd_expected_error would enumerate C({m}+{parts}-1, {parts}-1) = {terms} count vectors "
            f"> max_terms={max_terms}; use Monte Carlo (agc.expected_error over rdm draws) instead"
        )
    patterns = np.array([[1.0] + [1.0 - 2.0 * ((b >> t) & 1) for t in range(ell - 1)] for b in range(parts)])
    counts = _compositions(m, parts)
    grams = np.einsum("cp,pu,pw->cuw", counts.astype(np.float64), patterns, patterns)
    eigenvalues = np.clip(np.linalg.eigvalsh(grams), 0.0, None)
    log_weights = gammaln(m + 1) - gammaln(counts + 1).sum(axis=1) - m * np.log(parts)
    return float(k * ell - np.exp(log_weights) @ _eigen_energy(delta, lam, ell, eigenvalues))


def _dominance_terms(code, masks):
    """``b = tr(M_S^T Δ^+ M_S)`` and ``a = tr(M_S^T Δ^+ K Δ^+ M_S)`` for each survivor mask."""
    gram = code.B @ code.B.T
    M = code.B @ code.target.T  # (n, ell)
    masks = mask_batch(masks, code.n)
    delta = masks.astype(np.float64) @ np.abs(gram)  # Δ_jj = Σ_{j' ∈ S} |K_{j j'}| (used for j ∈ S)
    y = np.divide(1.0, delta, out=np.zeros_like(delta), where=masks & (delta > 0))
    energy = np.sum(M**2, axis=1)
    b = y @ energy
    a = np.einsum("mi,ij,mj->m", y, gram * (M @ M.T), y)
    return a, b


def diagonal_dominance_bounds(code, masks, refine=False):
    r"""Batched :func:`diagonal_dominance_bound`: one bound per row of ``masks`` (shape ``(m, n)``).

    Parameters
    ----------
    code : agc.Code
    masks : array_like of bool, shape (m, n)
    refine : bool
        The refined form :math:`k\ell - b^2/a`.

    Returns
    -------
    numpy.ndarray, shape (m,)
    """
    if not isinstance(code, Code):
        raise TypeError(f"code must be an agc.Code, got {type(code).__name__}")
    a, b = _dominance_terms(code, masks)
    total = float(code.k * code.ell)
    if not refine:
        return total - b
    refined = np.divide(b**2, a, out=np.zeros_like(b), where=a > 0)
    return total - refined


def diagonal_dominance_bound(code, survivors, refine=False):
    r"""Upper bound on :math:`\mathrm{err}^*(S)` from a dominating diagonal Gram matrix (any code; the paper's RHPNC bound).

    .. math:: \mathrm{err}^*(S) \le k\ell - \sum_{j \in S,\ \Delta_{jj} > 0} \frac{\lVert M_j \rVert^2}{\Delta_{jj}},
              \qquad \Delta_{jj} = \sum_{j' \in S} \lvert \langle B_j, B_{j'} \rangle \rvert ,
              \qquad M_j = (B T^\top)_{j,:} ,

    :math:`M_{ju}` being the sum of worker ``j``'s coefficients in block ``u``.

    *Derivation.* :math:`\Delta - K` (with :math:`K = B_S B_S^\top`) has diagonal
    :math:`\sum_{j' \ne j} |K_{jj'}|` and off-diagonal :math:`-K_{jj'}`: it is symmetric and
    diagonally dominant with a non-negative diagonal, hence positive semidefinite by Gershgorin,
    i.e. :math:`K \preceq \Delta`. Take the decoder :math:`D = M_S^\top \Delta^+`
    (:math:`\Delta^+` inverts the non-zero diagonal entries; a zero entry means a zero row of
    :math:`B_S`, whose :math:`M_j = 0`). With :math:`a = \operatorname{tr}(D K D^\top)` and
    :math:`b = \operatorname{tr}(D M_S) = \operatorname{tr}(M_S^\top \Delta^+ M_S)`,

    .. math:: \mathrm{err}^*(S) \le \mathrm{err}(S, \beta D) = \beta^2 a - 2\beta b + k\ell ,

    and :math:`\Delta^+ K \Delta^+ \preceq \Delta^+ \Delta \Delta^+ = \Delta^+` gives
    :math:`a \le b`. At :math:`\beta = 1` this is the stated bound :math:`k\ell - b` (the paper's;
    the recovered energy :math:`\operatorname{tr}(M_S^\top K^+ M_S)` is at least ``b``). With
    ``refine=True`` the best :math:`\beta = b/a` gives the tighter :math:`k\ell - b^2/a`, still the
    error of an explicit decoder.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.
    refine : bool
        Return :math:`k\ell - b^2/a` instead of :math:`k\ell - b`.

    Returns
    -------
    float

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.rhpnc(agc.assignments.cyclic(8, 4, 2), 2, seed=0)
    >>> S = [0, 1, 2, 4, 5, 7]
    >>> bool(agc.optimal_error(code, S) <= diagonal_dominance_bound(code, S, refine=True)
    ...      <= diagonal_dominance_bound(code, S))
    True
    """
    if not isinstance(code, Code):
        raise TypeError(f"code must be an agc.Code, got {type(code).__name__}")
    mask = survivor_mask(survivors, code.n)
    return float(diagonal_dominance_bounds(code, mask[None, :], refine)[0])
