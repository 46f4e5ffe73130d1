"""Assignments from bipartite graphs: cyclic, fractional repetition (DESIGN §2.3).

Each function returns an ``(n, k)`` 0/1 ``int64`` array, rows = workers, columns = chunks.
"""

from __future__ import annotations

import numpy as np

from agc._checks import check_int


def cyclic(n, k, load):
    """Cyclic (circulant) assignment: worker ``j`` holds chunks ``j, j+1, …, j+load-1`` mod ``k``.

    Parameters
    ----------
    n : int
        Workers, ``n >= 1``.
    k : int
        Chunks, ``k >= 1``.
    load : int
        Chunks per worker, ``1 <= load <= k``.

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If ``load > k`` or a parameter is below one.

    References
    ----------
    Tandon, Lei, Dimakis and Karampatziakis, *Gradient coding*, ICML 2017.

    Examples
    --------
    >>> cyclic(3, 3, 2)
    array([[1, 1, 0],
           [0, 1, 1],
           [1, 0, 1]])
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    A = np.zeros((n, k), dtype=np.int64)
    for j in range(n):
        A[j, (j + np.arange(load)) % k] = 1
    return A


def fractional_repetition(n, k, load):
    """Fractional repetition: ``k/load`` groups of workers, each group holding the same ``load`` chunks.

    Chunks ``g·load, …, (g+1)·load - 1`` go to every worker of group ``g``; the ``n`` workers are
    split into ``k/load`` equal groups, so the replication is ``n·load/k``.

    Parameters
    ----------
    n : int
        Workers; must be a multiple of ``k / load``.
    k : int
        Chunks; must be a multiple of ``load``.
    load : int
        Chunks per worker, ``1 <= load <= k``.

    Returns
    -------
    numpy.ndarray, shape (n, k)

    Raises
    ------
    ValueError
        If ``load`` does not divide ``k`` or ``k/load`` does not divide ``n``.

    References
    ----------
    Tandon, Lei, Dimakis and Karampatziakis, *Gradient coding*, ICML 2017.

    Examples
    --------
    >>> fractional_repetition(4, 4, 2)
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [0, 0, 1, 1],
           [0, 0, 1, 1]])
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1)
    load = check_int("load", load, low=1, high=k)
    if k % load:
        raise ValueError(f"load={load} must divide k={k} for fractional repetition")
    groups = k // load
    if n % groups:
        raise ValueError(f"n={n} must be a multiple of k/load={groups} for fractional repetition")
    per_group = n // groups
    A = np.zeros((n, k), dtype=np.int64)
    for g in range(groups):
        A[g * per_group:(g + 1) * per_group, g * load:(g + 1) * load] = 1
    return A
