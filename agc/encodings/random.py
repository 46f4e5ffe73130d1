r"""Randomised encodings on an assignment: RDM, RHPNC and independent Gaussian coefficients.

All three keep the support of the assignment ``A`` (book: *Bipartite graphs and the null-space
constraint*): block ``u`` of ``B`` (the ``n × k`` matrix :math:`B^{(u)}`, columns
``u·k … u·k + k - 1``) is non-zero only where ``A`` is. Rows are workers; the paper writes the
transpose.

* :func:`rdm` — random diagonal matrices, :math:`B^{(u)} = \operatorname{diag}(r_u) A`.
* :func:`rhpnc` — random Hadamard product with a null-space constraint,
  :math:`B^{(u)} = \operatorname{diag}(v_u)\, A \operatorname{diag}(c_u)`, exact with no straggler.
* :func:`iid_gaussian` — independent :math:`N(0, 1)` coefficients on the support, for comparison.

**Orthogonal mixing changes nothing.** For an orthogonal :math:`Q \in \mathbb{R}^{\ell\times\ell}`
the code :math:`B' = B\,(Q \otimes I_k)`, i.e. :math:`B'^{(u')} = \sum_u Q_{u u'} B^{(u)}`, mixes
the blocks identically at every worker and keeps the support. Since
:math:`T (Q \otimes I_k) = (I_\ell \otimes 1_k^\top)(Q \otimes I_k) = Q \otimes 1_k^\top = Q T`,

.. math:: \min_D \lVert D B'_S - T \rVert_F
          = \min_D \lVert (D B_S - Q^\top T)(Q \otimes I_k) \rVert_F
          = \min_D \lVert Q D B_S - T \rVert_F = \mathrm{err}^*(S)^{1/2} ,

for every survivor set ``S``: a scheme that differs from another only by such a mixing is not
new. (Per-worker mixings, as in :func:`rdm` with :math:`Q_j = \operatorname{diag}` of signs
that differ between workers, *do* change the error.)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse

from agc._checks import as_generator, check_binary_matrix, check_matrix
from agc.code import EXACT_TOL, Code, check_size
from agc.seeds import seed_record

#: Smallest allowed per-chunk normaliser :math:`\sum_{j \in N(i)} v_u[j]^2` (with
#: :math:`\lVert v_u \rVert^2 = n`); below it a chunk is treated as unreachable by block ``u``.
NORMALISER_TOL = 1e-8


def rdm(A, ell, seed=None, dist="rademacher"):
    r"""Random diagonal matrices: :math:`B^{(u)} = \Lambda_u A`, :math:`\Lambda_u = \operatorname{diag}(r_u)`.

    Worker ``j`` first sums its chunks, :math:`h_j = \sum_{i \in N(j)} g_i`, then sends
    :math:`f_j = \sum_u r_u[j]\, h_j^{(u)}`: one random sign (or Gaussian weight) per worker and
    block. The ``ell × n`` weights are kept in ``code.vectors`` (row ``u`` is
    :math:`r_u`); with them and constant replication :math:`\gamma`, the decoder
    :math:`D[u, j] = r_u[j] / (\gamma (1 - p))` is unbiased over signs and Bernoulli(``p``)
    failures together, provided the signs are redrawn (a new ``seed``) every iteration
    (book: *Unbiasedness and convergence*): :math:`\mathbb{E}[r_u[j] r_w[j]] = [u = w]` for both distributions.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
        Communication reduction, ``ell >= 1``.
    seed : int or numpy.random.Generator, optional
    dist : {"rademacher", "gaussian"}
        :math:`r_u` i.i.d. uniform on :math:`\{\pm 1\}^n`, or i.i.d. :math:`N(0, 1)`.

    Returns
    -------
    agc.Code
        ``name="rdm"``; ``params`` holds ``ell``, ``dist`` and ``seed`` (``None`` unless an
        int); ``code.vectors`` (read-only, shape ``(ell, n)``) holds the signs, row ``u`` is :math:`r_u`.

    Raises
    ------
    ValueError
        If ``dist`` is unknown or ``A`` is not 0/1.

    References
    ----------
    Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*, 2026.

    Examples
    --------
    >>> import agc
    >>> code = rdm(agc.assignments.cyclic(4, 4, 2), 2, seed=0)
    >>> code.vectors.shape
    (2, 4)
    >>> bool(np.all(np.abs(code.B[:, :4]) == code.assignment))
    True
    """
    A = check_binary_matrix("A", A)
    ell = check_size(*A.shape, ell)
    if dist not in ("rademacher", "gaussian"):
        raise ValueError(f"dist must be 'rademacher' or 'gaussian', got {dist!r}")
    n, _ = A.shape
    rng = as_generator(seed)
    if dist == "rademacher":
        signs = 2.0 * rng.integers(0, 2, size=(ell, n)) - 1.0
    else:
        signs = rng.standard_normal((ell, n))
    B = np.hstack([signs[u][:, None] * A for u in range(ell)])
    params = {"ell": ell, "dist": dist, "seed": seed_record(seed)}
    return Code(B, A, ell, name="rdm", params=params, vectors=signs)


def iid_gaussian(A, ell, seed=None):
    r"""Independent :math:`N(0, 1)` coefficients on the support: :math:`B = (1_\ell^\top \otimes A) \circ Z`.

    A generic code with the assignment's support, for comparison with :func:`rdm` and
    :func:`rhpnc`: worker ``j`` draws a fresh weight for every (chunk, block) pair it holds,
    :math:`Z_{j, uk+i} \sim N(0, 1)` i.i.d. (It was called ``hadamard`` before: it is the
    Hadamard, i.e. entrywise, product of the support with a Gaussian matrix, not a Hadamard matrix.)

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    ell : int
        Communication reduction, ``ell >= 1``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    agc.Code
        ``name="iid_gaussian"``.

    Examples
    --------
    >>> import agc
    >>> code = iid_gaussian(agc.assignments.cyclic(6, 6, 3), 2, seed=1)
    >>> code.B.shape
    (6, 12)
    >>> bool(np.all((code.B != 0) == np.tile(code.assignment, (1, 2))))
    True
    """
    A = check_binary_matrix("A", A)
    ell = check_size(*A.shape, ell)
    n, k = A.shape
    rng = as_generator(seed)
    B = np.tile(A, (1, ell)) * rng.standard_normal((n, k * ell))
    return Code(B, A, ell, name="iid_gaussian", params={"ell": ell, "seed": seed_record(seed)})


VARIANTS = ("gaussian", "authors", "pm1")
"""The variants of :func:`rhpnc`."""


def rhpnc(A, ell, seed=None, variant="gaussian", time_limit=60.0, v1=None, objective="random"):
    r"""Random Hadamard product with null-space constraint (RHPNC): exact with no straggler.

    .. math:: B^{(u)} = \operatorname{diag}(v_u)\, A\, \operatorname{diag}(c_u), \qquad
              c_u[i] = \Bigl(\sum_{j \in N(i)} v_u[j]^2\Bigr)^{-1}, \qquad
              A^\top (v_u \circ v_w) = 0 \ (u \ne w),

    where :math:`N(i)` are the holders of chunk ``i``: on every chunk's holders the vectors
    :math:`v_1, …, v_\ell` are orthogonal. The fixed decoder :math:`D_{\mathrm{full}}[u, j] = v_u[j]`
    then gives :math:`(D_{\mathrm{full}} B)_{u, wk+i} = c_w[i]\,(A^\top(v_u \circ v_w))_i = [u = w]`,
    i.e. :math:`D_{\mathrm{full}} B = T`; it is stored as ``code.vectors``, and
    :math:`D_{\mathrm{full}}[:, S]/(1-p)` is unbiased under Bernoulli(``p``) failures. The code of
    given vectors is :func:`rhpnc_code`.

    **Where it exists.** Write :math:`\gamma_i` for the replication of chunk ``i``. For every
    variant and ``ell >= 2`` one needs :math:`\ell \le \gamma_i` for all ``i`` (non-zero
    orthogonal vectors in :math:`\mathbb{R}^{\gamma_i}`). Every variant here starts from a
    :math:`v_1` with *full support* (Gaussian, or all ones), as the paper does; then
    :math:`v \mapsto v_1 \circ v` is invertible and maps the solutions :math:`v_2` of
    :math:`A^\top(v_1 \circ v_2) = 0` onto :math:`\ker A^\top`, a space of dimension
    :math:`n - \operatorname{rank}(A)`. On a non-singular ``A`` (``rank(A) = n``: every symmetric
    BIBD such as ``PG(2, q)``, the adjacency of an SRG without eigenvalue 0 such as
    SRG(126, 25, 8, 4)) only :math:`v_2 = 0` remains, and every variant raises ``ValueError``.
    RHPNC codes do exist there, but not with a full-support vector: ``rank(A) = n`` forces
    :math:`v_u \circ v_w = 0` for all :math:`u \ne w`, i.e. pairwise disjoint supports, each
    covering every chunk — a block split of the same assignment, which
    :func:`agc.encodings.block_split` builds (book: *Bipartite graphs and the null-space
    constraint*, where this is proved).

    * ``variant="gaussian"``: :math:`v_1 \sim N(0, I_n)`; for ``u >= 2``, :math:`v_u` is a
      standard Gaussian vector in the null space of the :math:`(u-1)k \times n` matrix with rows
      :math:`(A_{:,i} \circ v_w)^\top` (all chunks ``i``, all ``w < u``), which is linear in
      :math:`v_u` once the earlier vectors are fixed: a uniformly random direction of that null
      space. For ``u = 2`` its dimension is :math:`n - \operatorname{rank}(A)`; for ``u >= 3``
      it is at least :math:`n - (u-1)k`, so the sequential construction is guaranteed when
      :math:`n > (\ell - 1) k` and generally fails when the constraints are independent and
      :math:`n \le (\ell-1)k`; it also fails if the null space vanishes on all holders of some
      chunk (a zero normaliser). Both failures raise ``ValueError``. Every :math:`v_u` is
      scaled to :math:`\lVert v_u \rVert^2 = n`.
    * ``variant="authors"``: the choice of the authors' scripts (``smunim-47/CE-AGC``),
      reproduced: :math:`v_1 \sim N(0, I_n)` as drawn, and :math:`v_2` the *last right singular
      vector* (``Vt[-1]`` of ``numpy.linalg.svd`` with full matrices, unit norm) of the
      ``k × n`` matrix :math:`P` with :math:`P_{ij} = v_1[j] / \sum_{j' \in N(i)} v_1[j']^2` for
      :math:`j \in N(i)`, zero elsewhere. When ``n > rank(P)`` this is one fixed vector of the
      null space, chosen by LAPACK's algorithm (a different LAPACK may return another member),
      not a random draw. For ``ell >= 3`` the same rule is applied sequentially: :math:`v_u` is
      the last right singular vector of the stacked :math:`P_1, …, P_{u-1}` (rows
      :math:`v_w` on chunk ``i``'s holders over its squared norm). That is a null vector only
      when the stacked matrix has rank below ``n`` (guaranteed for :math:`n > (u-1)k`); the
      authors' commented code for ``ell > 2`` takes it regardless, which is then not an RHPNC
      code, so this function raises ``ValueError`` instead. The scales are the authors'
      (:math:`\lVert v_1 \rVert^2 \approx n`, :math:`\lVert v_u \rVert = 1` for ``u >= 2``);
      they matter, since scaling :math:`v_u` scales block ``u`` of ``B`` by its inverse.
    * ``variant="pm1"``: :math:`v_1 = 1`, and :math:`v_2, …, v_\ell \in \{\pm 1\}^n` found jointly
      by one integer program (``scipy.optimize.milp``, HiGHS) in binaries :math:`x_u`,
      :math:`v_u = 2x_u - 1`: balance :math:`A^\top x_u = \gamma / 2` (this is
      :math:`A^\top (v_1 \circ v_u) = 0`) and, for ``ell >= 3``, :math:`z_{uw} = x_u \oplus x_w`
      linearised by four inequalities with :math:`A^\top z_{uw} = \gamma/2` (since
      :math:`v_u \circ v_w = 1 - 2 z_{uw}`). HiGHS stops at its first feasible point. With
      ``objective="random"`` the objective is a random vector drawn from ``seed``; with
      ``objective="none"`` it is zero, a pure feasibility problem as in the authors' scripts
      (theirs: cvxpy, a constant objective). In both the workers are permuted by ``seed``
      first, so different seeds usually give different solutions. Necessary conditions,
      checked first: every :math:`\gamma_i` even for ``ell = 2``; every :math:`\gamma_i`
      divisible by 4 and :math:`\ge \ell` for ``ell >= 3`` (three mutually orthogonal
      :math:`\pm 1` vectors of length :math:`\gamma` need :math:`4 \mid \gamma`). When they
      hold, the integer program decides existence exactly (within ``time_limit``).

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment; every chunk must have a holder.
    ell : int
        Communication reduction, ``ell >= 1``.
    seed : int or numpy.random.Generator, optional
        Draws :math:`v_1` (unless given) and the null-space directions (``"gaussian"``); the
        worker order and the objective (``"pm1"``).
    variant : {"gaussian", "authors", "pm1"}
    time_limit : float
        Seconds allowed to the integer program (``variant="pm1"``).
    v1 : array_like, shape (n,), optional
        A given :math:`v_1` for ``"gaussian"`` and ``"authors"`` (e.g. to reproduce a published
        draw), with no zero entry; default: drawn :math:`N(0, I_n)` from ``seed``.
    objective : {"random", "none"}
        Objective of the integer program (``variant="pm1"`` only).

    Returns
    -------
    agc.Code
        ``name="rhpnc"``; ``params`` holds ``ell``, ``variant`` and ``seed`` (and ``objective``
        for ``"pm1"``, ``v1="given"`` when given); ``code.vectors`` (read-only, shape
        ``(ell, n)``) holds :math:`v_u` in row ``u``, scaled as described for each variant.

    Raises
    ------
    ValueError
        If ``variant`` or ``objective`` is unknown, ``objective`` is given for a Gaussian
        variant or ``v1`` for ``"pm1"``, ``v1`` has the wrong length or a zero entry, a chunk
        has no holder or fewer than ``ell`` holders, ``rank(A) = n`` with ``ell >= 2`` (no
        full-support RHPNC code; the message points to :func:`agc.encodings.block_split`), the
        replication is not even (``pm1``, ``ell = 2``) or not divisible by 4 (``pm1``,
        ``ell >= 3``), the null space is trivial or leaves a chunk unreachable (``gaussian``,
        ``authors``), the last singular vector is not a null vector (``authors``,
        ``ell >= 3``), the integer program is infeasible (``pm1``), or the resulting ``B`` is
        not exact to ``EXACT_TOL``.
    RuntimeError
        If the integer program finds no solution within ``time_limit`` seconds.

    References
    ----------
    Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*, 2026; their
    experiment scripts, github.com/smunim-47/CE-AGC (``hadamard_product_construction.py``).

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(8, 4, 2)  # n = 8 > (ell-1)k = 4, replication 4
    >>> code = rhpnc(A, 2, seed=0)
    >>> D_full = code.vectors
    >>> bool(np.allclose(D_full @ code.B, code.target))
    True
    >>> code = rhpnc(A, 2, seed=0, variant="pm1")
    >>> code.vectors[0]
    array([1., 1., 1., 1., 1., 1., 1., 1.])
    >>> code = rhpnc(A, 2, seed=0, variant="authors")
    >>> bool(np.allclose(code.vectors[0] * code.vectors[1] @ A, 0)), round(float(np.linalg.norm(code.vectors[1])), 12)
    (True, 1.0)

    On a non-singular assignment no full-support RHPNC code exists; the block split does:

    >>> rhpnc(agc.assignments.projective_plane(3), 2, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: rhpnc(variant='gaussian', ell=2): no v_2 with v_1 of full support: A^T(v_1 ∘ v_2) = 0 needs ...
    """
    A = check_binary_matrix("A", A)
    ell = check_size(*A.shape, ell)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(map(repr, VARIANTS))}, got {variant!r}")
    if objective not in ("random", "none"):
        raise ValueError(f"objective must be 'random' or 'none', got {objective!r}")
    if objective != "random" and variant != "pm1":
        raise ValueError(f"objective={objective!r} applies to variant='pm1' only (the integer program), "
                         f"got variant={variant!r}")
    n = A.shape[0]
    if v1 is not None:
        if variant == "pm1":
            raise ValueError("v1 applies to the Gaussian variants only: variant='pm1' has v_1 = 1")
        v1 = check_matrix("v1", np.reshape(np.asarray(v1, dtype=np.float64), (1, -1)), shape=(1, n))[0]
        if np.any(v1 == 0):
            raise ValueError(f"v1 must have full support (no zero entry), got a zero at worker {int(np.argmin(v1 != 0))}")
    replication = A.sum(axis=0)
    if np.any(replication == 0):
        raise ValueError(f"A must give every chunk a holder; chunk {int(np.argmin(replication))} has none")
    if ell > replication.min():
        i = int(np.argmin(replication))
        raise ValueError(
            f"ell={ell} exceeds the replication {int(replication[i])} of chunk {i}: rhpnc needs ell orthogonal "
            f"non-zero vectors on every chunk's holders, so ell <= min replication"
        )
    if ell >= 2 and np.linalg.matrix_rank(A) == n:
        raise ValueError(
            f"rhpnc(variant={variant!r}, ell={ell}): no v_2 with v_1 of full support: A^T(v_1 ∘ v_2) = 0 needs "
            f"v_1 ∘ v_2 in ker A^T, which is {{0}} since rank(A) = n = {n}, and v_1 ∘ v_2 = 0 forces v_2 = 0. On a "
            f"non-singular A every RHPNC code has pairwise disjoint supports (v_u ∘ v_w = 0), i.e. it is a block "
            f"split of the assignment: use agc.encodings.block_split(A, ell)"
        )
    rng = as_generator(seed)
    if variant == "pm1":
        V = _pm1_vectors(A, ell, rng, time_limit, objective)
    else:
        first = rng.standard_normal(n) if v1 is None else v1
        V = _gaussian_vectors(A, ell, rng, first) if variant == "gaussian" else _authors_vectors(A, ell, first)
    params = {"ell": ell, "variant": variant, "seed": seed_record(seed)}
    if variant == "pm1":
        params["objective"] = objective
    if v1 is not None:
        params["v1"] = "given"
    return _hadamard_code(A, V, params, f"rhpnc({variant!r})")


def rhpnc_code(A, vectors):
    r"""The RHPNC encoding of given vectors: :math:`B^{(u)} = \operatorname{diag}(v_u)\, A \operatorname{diag}(c_u)`.

    With :math:`c_u[i] = 1 / \sum_{j \in N(i)} v_u[j]^2` (the holders :math:`N(i)` of chunk ``i``),
    block ``u`` of worker ``j``'s message is :math:`v_u[j] \sum_{i \in N(j)} c_u[i]\, g_i^{(u)}`.
    When the vectors are chunk-orthogonal, :math:`A^\top (v_u \circ v_w) = 0` for :math:`u \ne w`,
    the fixed decoder :math:`D_{\mathrm{full}} = V` (row ``u`` is :math:`v_u`) gives
    :math:`(V B)_{u, wk+i} = c_w[i]\,(A^\top (v_u \circ v_w))_i = [u = w]`, i.e. :math:`V B = T`:
    the code is exact with no straggler. :func:`rhpnc` draws the vectors; the block split of the
    same assignment (:func:`agc.encodings.block_split`) is this code with group indicators
    :math:`v_u = 1_{W_u}`, whose disjoint supports satisfy the constraint trivially. Scaling
    :math:`v_u` by :math:`\alpha` scales block ``u`` of ``B`` by :math:`1/\alpha`, which changes
    the optimal error under stragglers: the relative scale of the vectors is part of the code.

    Parameters
    ----------
    A : array_like, shape (n, k)
        0/1 assignment.
    vectors : array_like, shape (ell, n)
        Row ``u`` is :math:`v_u`; on the holders of every chunk each :math:`v_u` must not vanish.

    Returns
    -------
    agc.Code
        ``name="rhpnc"``, ``params={"ell": ell, "variant": "given"}``, ``code.vectors = vectors``.

    Raises
    ------
    ValueError
        If ``vectors`` has the wrong shape or is not finite, some :math:`v_u` vanishes on every
        holder of a chunk (normaliser below ``NORMALISER_TOL`` relative to
        :math:`\lVert v_u \rVert^2 / n`), or the vectors are not chunk-orthogonal
        (:math:`\lVert V B - T \rVert_F / \sqrt{k\ell}` above ``EXACT_TOL``).

    References
    ----------
    Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*, 2026.

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.cyclic(4, 4, 2)  # workers {0, 2} and {1, 3} each cover every chunk
    >>> code = rhpnc_code(A, [[1, 0, 1, 0], [0, 1, 0, 1]])
    >>> bool(np.allclose(code.vectors @ code.B, code.target))
    True
    >>> rhpnc_code(A, [[1, 1, 1, 1], [1, 1, 1, 1]])
    Traceback (most recent call last):
    ...
    ValueError: rhpnc_code: not numerically exact (the vectors are not chunk-orthogonal): ||V B - T||_F / ...
    """
    A = check_binary_matrix("A", A)
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"vectors must have shape (ell, n) with n={A.shape[0]}, got shape {V.shape}")
    ell = check_size(*A.shape, V.shape[0])
    V = check_matrix("vectors", V, shape=(ell, A.shape[0]))
    return _hadamard_code(A, V, {"ell": ell, "variant": "given"}, "rhpnc_code")


def _hadamard_code(A, V, params, caller):
    """The Code :math:`B^{(u)} = diag(v_u) A diag(c_u)`, refused when a chunk is unreachable or ``V B != T``."""
    n, k = A.shape
    ell = V.shape[0]
    normalisers = V**2 @ A  # (ell, k): sum of v_u[j]^2 over the holders of chunk i
    scale = np.sum(V**2, axis=1, keepdims=True) / n  # the normaliser of a chunk is compared with ||v_u||^2 / n
    if np.any(normalisers <= NORMALISER_TOL * scale):  # '<=' also refuses a zero vector
        u, i = np.argwhere(normalisers <= NORMALISER_TOL * scale)[0]
        raise ValueError(
            f"{caller}: v_{u + 1} vanishes on every holder of chunk {i} (normaliser {normalisers[u, i]:.3g}, "
            f"below {NORMALISER_TOL:g} ||v_{u + 1}||^2 / n): chunk {i} is unreachable in block {u}"
        )
    B = np.hstack([V[u][:, None] * A / normalisers[u][None, :] for u in range(ell)])
    target = np.kron(np.eye(ell), np.ones((1, k)))
    residual = np.linalg.norm(V @ B - target) / np.sqrt(k * ell)
    if residual > EXACT_TOL:
        raise ValueError(
            f"{caller}: not numerically exact (the vectors are not chunk-orthogonal): "
            f"||V B - T||_F / sqrt(k*ell) = {residual:.3g} > {EXACT_TOL:g}"
        )
    return Code(B, A, ell, name="rhpnc", params=params, vectors=V)


def _gaussian_vectors(A, ell, rng, first):
    """``v_1 = first`` and sequential Gaussian draws from the null space of the chunk-orthogonality constraints."""
    n, k = A.shape
    V = np.empty((ell, n))
    V[0] = first * (np.sqrt(n) / np.linalg.norm(first))
    for u in range(1, ell):
        constraints = (A.T[None, :, :] * V[:u, None, :]).reshape(u * k, n)  # rows A[:, i] ∘ v_w
        basis = scipy.linalg.null_space(constraints)
        if basis.shape[1] == 0:
            raise ValueError(
                f"rhpnc(variant='gaussian') cannot draw v_{u + 1}: the {u * k} constraints A^T(v_w ∘ v) = 0 "
                f"(w <= {u}) on n={n} workers leave only v = 0. A non-trivial null space is guaranteed when "
                f"n > (ell-1)*k = {(ell - 1) * k} (here n={n}, k={k}, ell={ell})"
            )
        v = basis @ rng.standard_normal(basis.shape[1])
        V[u] = v * (np.sqrt(n) / np.linalg.norm(v))
        _check_reachable(A, V[u], u, "gaussian")
    return V


def _authors_vectors(A, ell, first):
    """``v_1 = first``; ``v_u`` the last right singular vector of the stacked scaled constraints (the authors' rule)."""
    n, k = A.shape
    V = np.empty((ell, n))
    V[0] = first
    for u in range(1, ell):
        # row i of P_w: v_w on the holders of chunk i, divided by its squared norm there, and +0.0 elsewhere:
        # LAPACK's choice of null vector depends even on the sign of zero entries (a -0.0 changes Vt[-1])
        blocks = [np.where(A.T == 1, V[w][None, :] / (V[w] ** 2 @ A)[:, None], 0.0) for w in range(u)]
        constraints = np.vstack(blocks)
        _, singular, Vt = np.linalg.svd(constraints)  # full matrices: Vt is n × n
        v = Vt[-1]
        residual = np.linalg.norm(constraints @ v)
        if residual > 1e-10 * max(singular.max(), 1.0):
            raise ValueError(
                f"rhpnc(variant='authors') cannot take v_{u + 1}: the {u * k} × {n} stacked constraint matrix has "
                f"full rank n = {n}, so its last right singular vector (the authors' rule for ell > 2) is not a "
                f"null vector (|P v| = {residual:.3g}); a null vector needs n > rank, guaranteed when "
                f"n > (ell-1)*k = {(ell - 1) * k} (here n={n}, k={k}, ell={ell})"
            )
        V[u] = v
        _check_reachable(A, v, u, "authors")
    return V


def _check_reachable(A, v, u, variant):
    """Refuse a vector that vanishes on every holder of some chunk (relative to its mean square)."""
    normaliser = v**2 @ A
    limit = NORMALISER_TOL * np.sum(v**2) / A.shape[0]
    if normaliser.min() < limit:
        i = int(np.argmin(normaliser))
        raise ValueError(
            f"rhpnc(variant={variant!r}): v_{u + 1} vanishes on every holder of chunk {i} "
            f"(normaliser {normaliser[i]:.3g}, below {NORMALISER_TOL:g} ||v||^2 / n); the null space of the "
            f"constraints leaves chunk {i} unreachable in block {u}"
        )

def _pm1_vectors(A, ell, rng, time_limit, objective):
    """``v_1 = 1`` and ``v_2..v_ell`` in ``{±1}^n``, pairwise balanced on every chunk (one MILP)."""
    n, _k = A.shape
    V = np.ones((ell, n))
    if ell == 1:
        return V
    replication = A.sum(axis=0)
    if ell == 2 and np.any(replication % 2):
        i = int(np.flatnonzero(replication % 2)[0])
        raise ValueError(
            f"rhpnc(variant='pm1') needs an even replication: v_2 in {{±1}}^n balanced on every chunk's holders "
            f"exists only if every chunk has an even number of holders; chunk {i} has {int(replication[i])}"
        )
    if ell >= 3 and np.any(replication % 4):
        i = int(np.flatnonzero(replication % 4)[0])
        raise ValueError(
            f"rhpnc(variant='pm1') with ell={ell} >= 3 needs every replication divisible by 4 (three mutually "
            f"orthogonal ±1 vectors of length r need 4 | r); chunk {i} has {int(replication[i])} holders"
        )
    order = rng.permutation(n)  # a random worker order (and objective) randomise the first solution found
    m = ell - 1  # unknown vectors v_2..v_ell
    pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
    count = m + len(pairs)  # binary vectors: x_2..x_ell, then z_ab = x_a XOR x_b
    half = np.tile(replication / 2.0, count)
    # every unknown vector and every pairwise XOR is balanced on each chunk: A^T x = gamma / 2
    rows = [scipy.sparse.block_diag([A[order].T.astype(np.float64)] * count)]
    lower, upper = [half], [half]
    # z = x_a XOR x_b:  z - x_a + x_b >= 0,  z + x_a - x_b >= 0,  z - x_a - x_b <= 0,  z + x_a + x_b <= 2
    eye = scipy.sparse.identity(n)
    for p, (a, b) in enumerate(pairs):
        for sa, sb, lo, hi in ((-1, 1, 0, np.inf), (1, -1, 0, np.inf), (-1, -1, -np.inf, 0), (1, 1, -np.inf, 2)):
            coefficients = np.zeros((1, count))
            coefficients[0, [m + p, a, b]] = 1, sa, sb
            rows.append(scipy.sparse.kron(coefficients, eye))
            lower.append(np.full(n, lo))
            upper.append(np.full(n, hi))
    constraint = scipy.optimize.LinearConstraint(
        scipy.sparse.vstack(rows).tocsr(), np.concatenate(lower), np.concatenate(upper)
    )
    weights = rng.standard_normal(n * m) if objective == "random" else np.zeros(n * m)
    result = scipy.optimize.milp(
        np.concatenate([weights, np.zeros(n * len(pairs))]),
        integrality=np.ones(n * count),
        bounds=scipy.optimize.Bounds(0, 1),
        constraints=constraint,
        options={"time_limit": float(time_limit), "presolve": True, "mip_rel_gap": np.inf},  # any feasible point
    )
    if result.status == 2:
        raise ValueError(
            f"rhpnc(variant='pm1', ell={ell}) does not exist on this assignment: the integer program proves that "
            f"no ±1 vectors v_2..v_ell are pairwise balanced (chunk-orthogonal) on every chunk's holders"
        )
    if result.x is None:
        raise RuntimeError(
            f"rhpnc(variant='pm1', ell={ell}): the integer program found no solution within "
            f"time_limit={time_limit} s ({result.message})"
        )
    x = np.round(result.x[: n * m]).reshape(m, n)
    V[1:, order] = 2.0 * x - 1.0
    products = V[:, None, :] * V[None, :, :]  # (ell, ell, n)
    off = ~np.eye(ell, dtype=bool)
    if np.any(products[off] @ A != 0):
        raise ValueError("rhpnc(variant='pm1'): the integer program returned vectors that are not chunk-orthogonal")
    return V
