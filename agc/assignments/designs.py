r"""Assignments from balanced incomplete block designs (BIBDs) (book: *Combinatorial designs and random diagonal matrices*).

A :math:`(v, b, r, k, \lambda)` BIBD has ``v`` points and ``b`` blocks; every block has ``k``
points, every point lies in ``r`` blocks and every pair of points in ``λ`` blocks. As an
assignment the **points are chunks** (columns) and the **blocks are workers** (rows): the
matrix has shape ``(b, v)``, the load is the block size and the replication is ``r``. Beware
that the design's block size ``k`` is the project's ``load``, not its number of chunks (which
is ``v``). Every BIBD satisfies :math:`A^\top A = (r - \lambda) I + \lambda J` (points ×
points); a symmetric one (``v = b``) also :math:`A A^\top = (r - \lambda) I + \lambda J`.

Finite fields come from :mod:`galois`; nothing here does field arithmetic by hand.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from agc._checks import check_binary_matrix, check_int
from agc.assignments.fields import check_prime_power, field_tables

#: Largest number of blocks (workers) :func:`complete_design` builds.
MAX_BLOCKS = 10**6


class BIBDParameters(NamedTuple):
    r"""Parameters of a BIBD.

    Attributes
    ----------
    v : int
        Points (the chunks of the assignment).
    b : int
        Blocks (the workers).
    r : int
        Blocks through a point: the replication.
    block_size : int
        Points of a block: the load. Design theory calls it ``k``; here ``k`` is the number of chunks.
    lam : int
        Blocks through a pair of points, :math:`\lambda`.
    """

    v: int
    b: int
    r: int
    block_size: int
    lam: int


def projective_plane(q):
    r"""Projective plane :math:`PG(2, q)`: a symmetric :math:`(q^2+q+1, q+1, 1)` design.

    Points are the 1-dimensional subspaces of :math:`GF(q)^3`, written as normalised vectors
    (first non-zero coordinate 1) in the order :math:`(1, a, b)`, :math:`(0, 1, a)`,
    :math:`(0, 0, 1)` with ``a, b`` running over galois's integer representation; lines are the
    2-dimensional subspaces, written as the same normalised vectors :math:`\ell` (the line is
    :math:`\{x : \ell \cdot x = 0\}`), in the same order. Point ``x`` lies on line
    :math:`\ell` iff :math:`\ell \cdot x = 0` in :math:`GF(q)`. Hence
    :math:`v = b = q^2 + q + 1`, block size = replication = :math:`q + 1`, :math:`\lambda = 1`,
    any two lines meet in exactly one point (:math:`A A^\top = q I + J`), and the matrix is
    symmetric.

    Parameters
    ----------
    q : int
        The order, a prime power ``>= 2``.

    Returns
    -------
    numpy.ndarray, shape (q**2 + q + 1, q**2 + q + 1)
        Rows = lines (workers), columns = points (chunks).

    Raises
    ------
    ValueError
        If ``q`` is below 2 or not a prime power.

    References
    ----------
    C. J. Colbourn and J. H. Dinitz (eds.), *Handbook of Combinatorial Designs*, 2nd ed.,
    Chapman & Hall/CRC, 2007, §VII.2. The paper's scripts use :math:`PG(2, 9)`.

    Examples
    --------
    >>> A = projective_plane(2)
    >>> A.shape
    (7, 7)
    >>> bibd_parameters(A)
    BIBDParameters(v=7, b=7, r=3, block_size=3, lam=1)
    """
    q = check_prime_power(q, "projective plane")
    tables = field_tables(q)
    a, b = np.divmod(np.arange(q * q), q)
    points = np.concatenate([
        np.stack([np.ones(q * q, dtype=np.int64), a, b], axis=1),
        np.stack([np.zeros(q, dtype=np.int64), np.ones(q, dtype=np.int64), np.arange(q)], axis=1),
        np.array([[0, 0, 1]]),
    ])
    products = [tables.mul[points[:, None, t], points[None, :, t]] for t in range(3)]
    dot = tables.add[tables.add[products[0], products[1]], products[2]]
    return (dot == 0).astype(np.int64)


def affine_plane(q):
    r"""Affine plane :math:`AG(2, q)`: a :math:`(q^2, q^2+q, q+1, q, 1)` design.

    Points are the pairs :math:`(x, y) \in GF(q)^2`, point index ``x*q + y`` (integer
    representation). Lines are :math:`y = m x + c` (row ``m*q + c``) and the verticals
    :math:`x = c` (row ``q**2 + c``): :math:`b = q^2 + q` lines of :math:`q` points, every point
    on :math:`q + 1` lines, any two points on exactly one line.

    Parameters
    ----------
    q : int
        The order, a prime power ``>= 2``.

    Returns
    -------
    numpy.ndarray, shape (q**2 + q, q**2)
        Rows = lines (workers), columns = points (chunks).

    Raises
    ------
    ValueError
        If ``q`` is below 2 or not a prime power.

    References
    ----------
    C. J. Colbourn and J. H. Dinitz (eds.), *Handbook of Combinatorial Designs*, 2nd ed.,
    Chapman & Hall/CRC, 2007, §VII.2.

    Examples
    --------
    >>> bibd_parameters(affine_plane(3))
    BIBDParameters(v=9, b=12, r=4, block_size=3, lam=1)
    """
    q = check_prime_power(q, "affine plane")
    tables = field_tables(q)
    m, c, x = np.meshgrid(np.arange(q), np.arange(q), np.arange(q), indexing="ij")
    y = tables.add[tables.mul[m, x], c]
    A = np.zeros((q * q + q, q * q), dtype=np.int64)
    A[m * q + c, x * q + y] = 1
    vertical, y = np.divmod(np.arange(q * q), q)
    A[q * q + vertical, vertical * q + y] = 1
    return A


def steiner_triple_system(v):
    r"""Steiner triple system STS(v): triples on ``v`` points, every pair in exactly one triple.

    STS(v) exists iff :math:`v \equiv 1, 3 \pmod 6` (Kirkman 1847); it is a
    :math:`(v, v(v-1)/6, (v-1)/2, 3, 1)` design. Points are pairs :math:`(x, i)`,
    :math:`i \in \mathbb{Z}_3`, with index ``3*x + i``.

    * **Bose** (:math:`v = 6n + 3`): :math:`Q = \mathbb{Z}_{2n+1}` with the idempotent commutative
      quasigroup :math:`x \circ y = (n + 1)(x + y) \bmod (2n + 1)`; triples
      :math:`\{(x,0),(x,1),(x,2)\}` and :math:`\{(x,i),(y,i),(x \circ y, i+1)\}` for
      :math:`x < y`.
    * **Skolem** (:math:`v = 6n + 1`): :math:`Q = \mathbb{Z}_{2n}` with the half-idempotent
      commutative quasigroup :math:`x \circ y = (x+y)/2` if :math:`x + y` is even and
      :math:`(x + y - 1)/2 + n` if odd (sums mod :math:`2n`), plus a point :math:`\infty`
      (index ``v - 1``); triples :math:`\{(x,0),(x,1),(x,2)\}` for :math:`x < n`,
      :math:`\{\infty, (x+n, i), (x, i+1)\}` for :math:`x < n`, and
      :math:`\{(x,i),(y,i),(x \circ y, i+1)\}` for :math:`x < y`.

    Parameters
    ----------
    v : int
        Points, ``v >= 3`` with ``v % 6`` in ``{1, 3}``.

    Returns
    -------
    numpy.ndarray, shape (v*(v-1)//6, v)
        Rows = triples (workers), columns = points (chunks).

    Raises
    ------
    ValueError
        If ``v < 3`` or ``v`` is not 1 or 3 modulo 6.

    References
    ----------
    C. C. Lindner and C. A. Rodger, *Design Theory*, 2nd ed., CRC Press, 2009, §1.2 (Bose) and
    §1.3 (Skolem).

    Examples
    --------
    >>> bibd_parameters(steiner_triple_system(9))
    BIBDParameters(v=9, b=12, r=4, block_size=3, lam=1)
    """
    v = check_int("v", v, low=3)
    if v % 6 not in (1, 3):
        raise ValueError(
            f"v={v} is not admissible: a Steiner triple system STS(v) exists iff v ≡ 1 or 3 (mod 6), "
            f"got v ≡ {v % 6} (mod 6)"
        )
    n = v // 6
    triples = []
    if v % 6 == 3:
        order = 2 * n + 1

        def circ(x, y):
            return (n + 1) * (x + y) % order

        triples += [[(x, 0), (x, 1), (x, 2)] for x in range(order)]
    else:
        order = 2 * n

        def circ(x, y):
            s = (x + y) % order
            return s // 2 if s % 2 == 0 else (s - 1) // 2 + n

        triples += [[(x, 0), (x, 1), (x, 2)] for x in range(n)]
        triples += [[None, (x + n, i), (x, (i + 1) % 3)] for x in range(n) for i in range(3)]
    triples += [
        [(x, i), (y, i), (circ(x, y), (i + 1) % 3)]
        for x, y in itertools.combinations(range(order), 2)
        for i in range(3)
    ]
    A = np.zeros((len(triples), v), dtype=np.int64)
    for row, triple in enumerate(triples):
        A[row, [v - 1 if point is None else 3 * point[0] + point[1] for point in triple]] = 1
    return A


def complete_design(v, t):
    r"""Complete design: all :math:`\binom{v}{t}` ``t``-subsets of a ``v``-set as blocks.

    A :math:`(v, \binom{v}{t}, \binom{v-1}{t-1}, t, \binom{v-2}{t-2})` design; blocks in
    lexicographic order. The number of blocks grows fast: mind ``math.comb(v, t)``.

    Parameters
    ----------
    v : int
        Points, ``v >= 2``.
    t : int
        Block size, ``1 <= t <= v``.

    Returns
    -------
    numpy.ndarray, shape (math.comb(v, t), v)
        Rows = blocks (workers), columns = points (chunks).

    Raises
    ------
    ValueError
        If ``v < 2``, ``t`` is outside ``[1, v]``, or there are more than :data:`MAX_BLOCKS` blocks
        (refused before any memory is allocated; the message gives the count).

    References
    ----------
    C. J. Colbourn and J. H. Dinitz (eds.), *Handbook of Combinatorial Designs*, 2nd ed.,
    Chapman & Hall/CRC, 2007.

    Examples
    --------
    >>> complete_design(4, 2)
    array([[1, 1, 0, 0],
           [1, 0, 1, 0],
           [1, 0, 0, 1],
           [0, 1, 1, 0],
           [0, 1, 0, 1],
           [0, 0, 1, 1]])
    """
    v = check_int("v", v, low=2)
    t = check_int("t", t, low=1, high=v)
    count = math.comb(v, t)
    if count > MAX_BLOCKS:
        raise ValueError(f"complete_design(v={v}, t={t}) has C({v}, {t}) = {count} blocks (workers), more than "
                         f"MAX_BLOCKS={MAX_BLOCKS}")
    blocks = np.array(list(itertools.combinations(range(v), t)), dtype=np.int64)
    A = np.zeros((math.comb(v, t), v), dtype=np.int64)
    A[np.arange(len(blocks))[:, None], blocks] = 1
    return A


def from_blocks(blocks, v=None):
    r"""Assignment from a list of blocks, validated as a BIBD.

    Parameters
    ----------
    blocks : iterable of iterables of int
        Each block lists its points (chunk indices) without repetition; a block is a worker.
    v : int, optional
        Number of points; by default one more than the largest point used.

    Returns
    -------
    numpy.ndarray, shape (len(blocks), v)
        Rows = blocks (workers), columns = points (chunks).

    Raises
    ------
    ValueError
        If there is no block, a block is empty or repeats a point, a point is outside
        ``[0, v-1]``, or the design is not balanced: the message says which of block size,
        replication or pair count :math:`\lambda` is not constant.
    TypeError
        If a point is not an integer.

    References
    ----------
    C. J. Colbourn and J. H. Dinitz (eds.), *Handbook of Combinatorial Designs*, 2nd ed.,
    Chapman & Hall/CRC, 2007.

    Examples
    --------
    >>> fano = [[0, 1, 2], [0, 3, 4], [0, 5, 6], [1, 3, 5], [1, 4, 6], [2, 3, 6], [2, 4, 5]]
    >>> bibd_parameters(from_blocks(fano))
    BIBDParameters(v=7, b=7, r=3, block_size=3, lam=1)
    """
    blocks = [[check_int(f"a point of blocks[{index}]", point, low=0) for point in block]
              for index, block in enumerate(blocks)]
    if not blocks:
        raise ValueError("blocks must contain at least one block, got none")
    for index, block in enumerate(blocks):
        if not block:
            raise ValueError(f"blocks[{index}] is empty; every block needs at least one point")
        if len(set(block)) != len(block):
            raise ValueError(f"blocks[{index}] = {block} repeats a point")
    largest = max(max(block) for block in blocks)
    v = largest + 1 if v is None else check_int("v", v, low=2)
    if largest >= v:
        raise ValueError(f"blocks use point {largest}, outside the points [0, {v - 1}] for v={v}")
    A = np.zeros((len(blocks), v), dtype=np.int64)
    for row, block in enumerate(blocks):
        A[row, block] = 1
    bibd_parameters(A)
    return A


def _constant(values, what, name):
    """Return the common value of ``values``; otherwise raise, naming ``what`` and a smallest item."""
    low, high = int(values.min()), int(values.max())
    if low != high:
        item = name(int(np.argmin(values)))
        raise ValueError(f"not a BIBD: {what} is not constant: it ranges from {low} to {high} ({item} has {low})")
    return low


def bibd_parameters(A):
    r"""Parameters :math:`(v, b, r, k, \lambda)` of a BIBD given as a blocks × points 0/1 matrix.

    Checks that the block size (row sums), the replication (column sums) and the pair count
    (off-diagonal entries of :math:`A^\top A`) are constant.

    Parameters
    ----------
    A : array_like, shape (b, v)
        0/1 matrix, rows = blocks (workers), columns = points (chunks), ``v >= 2``.

    Returns
    -------
    BIBDParameters
        ``(v, b, r, block_size, lam)``: points, blocks, replication, block size and pair count.

    Raises
    ------
    ValueError
        If the matrix is not 0/1, has fewer than two points, empty blocks, or a block size,
        replication or pair count that is not constant; the message names which.

    References
    ----------
    C. J. Colbourn and J. H. Dinitz (eds.), *Handbook of Combinatorial Designs*, 2nd ed.,
    Chapman & Hall/CRC, 2007.

    Examples
    --------
    >>> bibd_parameters(complete_design(5, 3))
    BIBDParameters(v=5, b=10, r=6, block_size=3, lam=3)
    >>> bibd_parameters([[1, 1, 0], [0, 1, 1]])
    Traceback (most recent call last):
    ...
    ValueError: not a BIBD: replication (blocks per point) is not constant: it ranges from 1 to 2 (point 0 has 1)
    """
    A = check_binary_matrix("A", A)
    b, v = A.shape
    if v < 2 or b < 1:
        raise ValueError(f"A must have at least one block and two points, got shape {A.shape}")
    k = _constant(A.sum(axis=1), "block size (points per block)", lambda i: f"block {i}")
    if k == 0:
        raise ValueError("not a BIBD: every block is empty")
    r = _constant(A.sum(axis=0), "replication (blocks per point)", lambda i: f"point {i}")
    first, second = np.triu_indices(v, 1)
    together = (A.T @ A)[first, second]
    lam = _constant(
        together, "pair count λ (blocks per pair of points)", lambda i: f"the pair ({first[i]}, {second[i]})"
    )
    return BIBDParameters(v=v, b=b, r=r, block_size=k, lam=lam)
