r"""Decoders: the optimal (minimum-norm least-squares) decoder and the fixed decoder.

A decoder for survivors ``S`` is a matrix :math:`D \in \mathbb{R}^{\ell \times |S|}`; its
error is :math:`\lVert D B_S - T \rVert_F^2` (book: *Notation and model*).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from agc._checks import survivor_mask
from agc.code import EXACT_TOL
from agc.failures import failure_probabilities


def optimal_decoder(code, survivors):
    r"""Minimum-norm least-squares decoder :math:`D = T B_S^{+}`.

    It attains :math:`\mathrm{err}^*(S) = \lVert T(I - P_S) \rVert_F^2` and is well defined
    when :math:`B_S` is rank deficient: LAPACK's ``gelsy`` (QR with column pivoting, a
    rank-revealing complete orthogonal factorisation) returns the minimum-norm solution, about
    2.5 times faster than the SVD-based ``gelsd`` at these sizes.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.

    Returns
    -------
    D : numpy.ndarray, shape (ell, |S|)

    Examples
    --------
    >>> import agc
    >>> A = agc.assignments.fractional_repetition(4, 4, 2)
    >>> code = agc.encodings.stacking(A, 1)
    >>> optimal_decoder(code, [0, 2])
    array([[1., 1.]])
    """
    mask = survivor_mask(survivors, code.n)
    B_S = code.B[mask]
    if B_S.shape[0] == 0:
        return np.zeros((code.ell, 0))
    return _min_norm_lstsq(B_S.T, code.target.T).T


def _min_norm_lstsq(A, b):
    """Minimum-norm least-squares solution of ``A x = b`` (``b`` 2-D) by LAPACK ``gelsy``.

    What ``scipy.linalg.lstsq(A, b, cond=eps·max(A.shape), lapack_driver="gelsy",
    check_finite=False)`` computes, with numpy's rank cut-off, calling the LAPACK routine
    through ``scipy.linalg.get_lapack_funcs`` directly: the wrapper's argument handling costs
    as much as the factorisation at decoder sizes, and the training loop decodes every iteration.
    """
    m, n = A.shape
    gelsy, gelsy_lwork = scipy.linalg.get_lapack_funcs(("gelsy", "gelsy_lwork"), (A, b))
    rhs = np.zeros((max(m, n), b.shape[1]), dtype=gelsy.dtype)  # gelsy returns x in the first n rows
    rhs[:m] = b
    cond = np.finfo(gelsy.dtype).eps * max(m, n)  # the rank cut-off numpy.linalg.lstsq uses
    work, info = gelsy_lwork(m, n, b.shape[1], cond)
    if info != 0:
        raise ValueError(f"LAPACK gelsy_lwork failed with info={info}")
    pivots = np.zeros((n, 1), dtype=np.int32)
    _, x, _, _, info = gelsy(A, rhs, pivots, cond, int(work), overwrite_a=False, overwrite_b=True)
    if info != 0:
        raise ValueError(f"LAPACK gelsy failed with info={info}")
    return x[:n]


def decoding_error(code, survivors, decoder):
    r"""Error :math:`\lVert D B_S - T \rVert_F^2` of an explicit decoder ``D``.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.
    decoder : array_like, shape (ell, |S|)

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the decoder has the wrong shape.
    """
    mask = survivor_mask(survivors, code.n)
    D = np.asarray(decoder, dtype=np.float64)
    if D.shape != (code.ell, int(mask.sum())):
        raise ValueError(f"decoder must have shape ({code.ell}, {int(mask.sum())}), got {D.shape}")
    return float(np.sum((D @ code.B[mask] - code.target) ** 2))


def fixed_decoder(code):
    r"""The decoder :math:`D_{\mathrm{full}}` with :math:`D_{\mathrm{full}} B = T` (no stragglers).

    Parameters
    ----------
    code : agc.Code

    Returns
    -------
    D_full : numpy.ndarray, shape (ell, n)
        Minimum-norm solution of :math:`D B = T`.

    Raises
    ------
    ValueError
        If no exact decoder exists (the residual exceeds ``EXACT_TOL`` relative to
        :math:`\lVert T \rVert_F`), e.g. for the stacking baseline with ``ell > 1``.

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.block_split(agc.assignments.cyclic(4, 4, 2), 2)  # groups {0, 2} and {1, 3}
    >>> D = fixed_decoder(code)
    >>> bool(np.allclose(D @ code.B, code.target))
    True
    """
    D = optimal_decoder(code, np.ones(code.n, dtype=bool))
    residual = np.linalg.norm(D @ code.B - code.target) / np.sqrt(code.k * code.ell)
    if residual > EXACT_TOL:
        raise ValueError(
            f"code {code.name!r} has no exact decoder: min ||D B - T||_F / sqrt(k*ell) = {residual:.3g} "
            f"> {EXACT_TOL:g} with all {code.n} workers"
        )
    return D


def unbiased_decoder(code, survivors, p, D_full=None):
    r"""The fixed decoder on the survivors, each rescaled by its survival probability: :math:`D_{\mathrm{full}}[:, j]/(1-p_j)`.

    When each worker ``j`` is absent independently with probability :math:`p_j` (Bernoulli
    failures, common or per worker, or one iteration of the Markov model of
    :func:`agc.failures.markov_masks`), write :math:`\xi_j` for the indicator that ``j``
    survives. Then

    .. math:: \mathbb{E}[D B_S] = \sum_j \frac{\mathbb{E}\,\xi_j}{1-p_j}\, D_{\mathrm{full}}[:, j] B_{j,:}
              = D_{\mathrm{full}} B = T ,

    so the decoded gradient is unbiased, with
    :math:`\mathbb{E}\lVert D B_S - T\rVert_F^2
    = \sum_j \frac{p_j}{1-p_j} \lVert D_{\mathrm{full}}[:,j]\rVert^2 \lVert B_{j,:}\rVert^2`
    (book: *Unbiasedness and convergence*, *Heterogeneous and bursty failures*; see
    :func:`agc.bounds.unbiased_expected_error`). With a common ``p`` this is
    :math:`D_{\mathrm{full}}[:, S]/(1-p)`.

    Parameters
    ----------
    code : agc.Code
    survivors : array_like
        Index array or boolean mask of length ``n``.
    p : float or array_like of shape (n,)
        Failure probability in ``[0, 1)``, common or one per worker.
    D_full : numpy.ndarray, optional
        A precomputed :func:`fixed_decoder` (saves a least-squares solve per call).

    Returns
    -------
    numpy.ndarray, shape (ell, |S|)

    Raises
    ------
    ValueError
        If ``p`` has the wrong length or an entry outside ``[0, 1)``, or the code has no exact
        decoder (:func:`fixed_decoder`).

    Examples
    --------
    >>> import agc
    >>> code = agc.encodings.block_split(agc.assignments.cyclic(4, 4, 2), 2)
    >>> D = unbiased_decoder(code, [0, 1, 3], [0.5, 0.0, 0.2, 0.2])
    >>> bool(np.allclose(D, fixed_decoder(code)[:, [0, 1, 3]] / [0.5, 1.0, 0.8]))
    True
    """
    mask = survivor_mask(survivors, code.n)
    p = failure_probabilities(code.n, p)
    if D_full is None:
        D_full = fixed_decoder(code)
    return D_full[:, mask] / (1.0 - p[mask])
