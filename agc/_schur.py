r"""Compiled kernel of the error engine (:func:`agc.engine._lost_energy`), written for rank-deficient codes.

For a straggler set ``R`` of size ``s`` with :math:`K_R` (``s × d``, ``d = n - r``) of full rank,
the lost energy :math:`\operatorname{tr} Y_R^\top N (N^\top W_{RR} N)^{-1} N^\top Y_R`, ``N`` a
basis of the left null space of :math:`K_R`, is computed without ``N``:

* :math:`N^\top W_{RR} N` does not change when a multiple of :math:`K_R K_R^\top` is added to
  :math:`W_{RR}` (:math:`N^\top K_R = 0`), so :math:`\tilde G = (W + KK^\top)_{RR}` may stand for it.
  :math:`W + KK^\top = [U\ K]\,\mathrm{diag}(\Sigma^{-2}, I)\,[U\ K]^\top` is positive definite,
  with eigenvalues between :math:`\min(\sigma_1^{-2}, 1)` and :math:`\max(\sigma_r^{-2}, 1)`; so
  is every principal block, even where :math:`W_{RR}` is singular (copies among the stragglers).
* With :math:`\tilde G = LL^\top`, the identity
  :math:`N(N^\top \tilde G N)^{-1}N^\top = \tilde G^{-1} - \tilde G^{-1}K_R(K_R^\top \tilde G^{-1}K_R)^{-1}K_R^\top \tilde G^{-1}`
  makes the energy the squared residual of the least-squares fit of :math:`L^{-1}Y_R` by the
  columns of :math:`L^{-1}K_R`: a Cholesky factorisation of size ``s``, a triangular solve, and a
  Householder QR of ``s × d`` applied to ``ℓ`` columns. The residual is summed, never formed as a
  difference, and the QR does not square the conditioning as normal equations would.

Each pattern is a few thousand floating-point operations; as batched NumPy calls (one LAPACK
call per matrix, several per pattern) the fixed cost of each call dominated, hence one compiled
loop over the patterns (single-threaded). Patterns whose :math:`K_R` is not clearly of full rank
(smallest singular value at most ``sqrt(floor)``) are left to the caller, marked not clean, as are
those whose factorisations fail in floating point.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _cholesky(A, n):
    """Lower Cholesky factor of ``A[:n, :n]`` in place (the upper triangle is left as it was);
    ``False`` if a pivot is not positive.
    """
    for j in range(n):
        pivot = A[j, j]
        for k in range(j):
            pivot -= A[j, k] * A[j, k]
        if not pivot > 0.0:
            return False
        root = np.sqrt(pivot)
        A[j, j] = root
        for i in range(j + 1, n):
            value = A[i, j]
            for k in range(j):
                value -= A[i, k] * A[j, k]
            A[i, j] = value / root
    return True


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _full_rank(Z, s, d, floor, C):
    """Whether every singular value of ``K_R`` (``s × d``, stored by columns as the rows of
    ``Z[:d, :s]``) squared exceeds ``floor``: one Cholesky factorisation of its small Gram matrix
    less ``floor·I``.
    """
    size = min(s, d)
    for a in range(size):
        for b in range(a + 1):
            value = 0.0
            if s > d:  # K_Rᵀ K_R, d × d
                for i in range(s):
                    value += Z[a, i] * Z[b, i]
            else:  # K_R K_Rᵀ, s × s
                for c in range(d):
                    value += Z[c, a] * Z[c, b]
            C[a, b] = value
        C[a, a] -= floor
    return _cholesky(C, size)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def lost_energies(W, K, stragglers, ell, floor):
    """Lost energy of each straggler set (rows of ``stragglers``, ``m × s``).

    Parameters
    ----------
    W : ndarray, (n + ell, n + ell)
        ``[[W + KKᵀ, Y], [Yᵀ, ·]]``: the engine's bordered matrix with ``KKᵀ`` added to its
        worker block.
    K : ndarray, (n, d)
        Orthonormal basis of the directions ``B``'s columns miss; ``d = 0`` (full row rank) is the
        plain downdate ``||L⁻¹ Y_R||²``.
    stragglers : ndarray of int64, (m, s)
    ell : int
    floor : float
        A pattern is clean when every singular value ``κ`` of ``K_R`` has ``κ² > floor``.

    Returns
    -------
    energy : ndarray, (m,)
        0 where not clean.
    clean : ndarray of bool, (m,)
    """
    m, s = stragglers.shape
    n, d = K.shape
    energy = np.zeros(m)
    clean = np.zeros(m, dtype=np.bool_)
    C = np.empty((max(min(s, d), 1), max(min(s, d), 1)))
    G = np.empty((s, s))
    Z = np.empty((d + ell, s))  # columns of K_R, then of Y_R, stored as rows
    for t in range(m):
        rows = stragglers[t]
        for a in range(s):
            for c in range(d):
                Z[c, a] = K[rows[a], c]
        if not _full_rank(Z, s, d, floor, C):
            continue
        if s <= d:  # K_R has full row rank: no direction is lost
            clean[t] = True
            continue
        for a in range(s):
            for b in range(a + 1):
                G[a, b] = W[rows[a], rows[b]]
            for c in range(ell):
                Z[d + c, a] = W[rows[a], n + c]
        if not _cholesky(G, s):
            continue
        for i in range(s):  # Z <- L⁻¹ Z, row by row of L
            inverse = 1.0 / G[i, i]
            for c in range(d + ell):
                value = Z[c, i]
                for k in range(i):
                    value -= G[i, k] * Z[c, k]
                Z[c, i] = value * inverse
        ok = True
        for j in range(d):  # Householder reflector of column j of L⁻¹K_R, applied to the later columns
            norm = 0.0
            for i in range(j, s):
                norm += Z[j, i] * Z[j, i]
            norm = np.sqrt(norm)
            if norm == 0.0:
                ok = False
                break
            head = Z[j, j]
            beta = -norm if head >= 0.0 else norm
            tau = (beta - head) / beta
            scale = 1.0 / (head - beta)
            for i in range(j + 1, s):
                Z[j, i] *= scale  # v = (1, Z[j, j+1:])
            for c in range(j + 1, d + ell):
                dot = Z[c, j]
                for i in range(j + 1, s):
                    dot += Z[j, i] * Z[c, i]
                dot *= tau
                Z[c, j] -= dot
                for i in range(j + 1, s):
                    Z[c, i] -= dot * Z[j, i]
        if not ok:
            continue
        total = 0.0
        for c in range(d, d + ell):
            for i in range(d, s):
                total += Z[c, i] * Z[c, i]
        energy[t] = total
        clean[t] = True
    return energy, clean
