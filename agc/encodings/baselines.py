r"""The two baselines: the paper's vertical stacking and our block split (book: *Gradient coding in one page*)."""

from __future__ import annotations

import numpy as np

from agc._checks import check_binary_matrix, check_int
from agc.code import Code, check_size


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


def block_split(A0, ell):
    r"""Block split: ``ell`` groups of workers, each a copy of ``A0``; group ``u`` sends block ``u`` only.

    Worker ``j`` of group ``u`` (row ``u·n0 + j``) sends :math:`\sum_{i \in N_0(j)} g_i^{(u)}`.
    Same load and the same bytes per worker as the other schemes with ``n = ell·n0`` workers,
    and exact with no straggler: the fair baseline (ours, beyond the paper).

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
    >>> code = block_split(agc.assignments.cyclic(3, 3, 2), 2)
    >>> (code.n, code.k, code.ell)
    (6, 3, 2)
    """
    A0 = check_binary_matrix("A0", A0)
    ell = check_size(A0.shape[0] * check_int("ell", ell, low=1), A0.shape[1], ell)
    n0, k = A0.shape
    B = np.zeros((ell * n0, ell * k))
    for u in range(ell):
        B[u * n0:(u + 1) * n0, u * k:(u + 1) * k] = A0
    return Code(B, np.tile(A0, (ell, 1)), ell, name="block_split", params={"ell": ell})
