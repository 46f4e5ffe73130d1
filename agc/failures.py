"""Failure models: which workers the parameter server hears from (DESIGN §2.1).

Every function returns survivor masks: boolean arrays of shape ``(m, n)`` whose ``True``
entries are the workers that answered.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from agc._checks import as_generator, check_int, check_probability

#: Largest ``n`` for which exact enumeration over all ``2**n`` patterns is offered.
MAX_ENUMERATION_N = 20


def bernoulli_masks(n, p, trials, seed=None):
    """Survivor masks with each worker failing independently with probability ``p``.

    Examples
    --------
    >>> bernoulli_masks(5, 0.0, 2, seed=0).all()
    np.True_
    """
    n = check_int("n", n, low=1)
    p = check_probability("p", p)
    trials = check_int("trials", trials, low=1)
    return as_generator(seed).random((trials, n)) >= p


def fixed_masks(n, s, trials, seed=None):
    """Survivor masks with exactly ``s`` stragglers chosen uniformly at random.

    Examples
    --------
    >>> fixed_masks(6, 2, 3, seed=1).sum(axis=1)
    array([4, 4, 4])
    """
    n = check_int("n", n, low=1)
    s = check_int("s", s, low=0, high=n - 1)
    trials = check_int("trials", trials, low=1)
    rng = as_generator(seed)
    order = np.argsort(rng.random((trials, n)), axis=1)
    masks = np.ones((trials, n), dtype=bool)
    np.put_along_axis(masks, order[:, :s], False, axis=1)
    return masks


def all_straggler_sets(n, s):
    """All ``C(n, s)`` survivor masks with exactly ``s`` stragglers, in lexicographic order."""
    n = check_int("n", n, low=1)
    s = check_int("s", s, low=0, high=n - 1)
    count = math.comb(n, s)
    masks = np.ones((count, n), dtype=bool)
    for row, stragglers in enumerate(itertools.combinations(range(n), s)):
        masks[row, list(stragglers)] = False
    return masks


def bernoulli_enumeration(n, p):
    r"""Every survivor pattern with its probability under Bernoulli(``p``) failures.

    Pattern weights are :math:`p^{s}(1-p)^{n-s}`; only for ``n <= MAX_ENUMERATION_N``.

    Returns
    -------
    masks : numpy.ndarray, shape (2**n, n)
    weights : numpy.ndarray, shape (2**n,)
        Probabilities summing to one.
    """
    n = check_int("n", n, low=1, high=MAX_ENUMERATION_N)
    p = check_probability("p", p)
    codes = np.arange(2**n, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
    s = n - masks.sum(axis=1)
    weights = p**s * (1.0 - p) ** (n - s)
    return masks, weights
