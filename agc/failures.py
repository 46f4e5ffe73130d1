"""Failure models: which workers the parameter server hears from (book chapter *Notation and model*).

Every function returns survivor masks: boolean arrays of shape ``(m, n)`` whose ``True``
entries are the workers that answered. :class:`FailureModel` draws one mask per iteration for
the simulated training.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from agc._checks import as_generator, check_int, check_probability

__all__ = [
    "FAILURE_MODELS",
    "MAX_ENUMERATION_N",
    "FailureModel",
    "all_straggler_sets",
    "bernoulli_enumeration",
    "bernoulli_masks",
    "fixed_masks",
    "masks_from_stragglers",
]

#: Largest ``n`` for which exact enumeration over all ``2**n`` patterns is offered.
MAX_ENUMERATION_N = 20
#: Largest number of straggler sets :func:`all_straggler_sets` materialises by default.
MAX_SETS = 4_000_000
#: Failure models of :class:`FailureModel`.
FAILURE_MODELS = ("none", "bernoulli", "fixed", "adversarial")


def bernoulli_masks(n, p, trials, seed=None):
    """Survivor masks with each worker failing independently with probability ``p``.

    Parameters
    ----------
    n : int
        Workers.
    p : float
        Failure probability in ``[0, 1)``.
    trials : int
        Number of masks.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray of bool, shape (trials, n)

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

    Parameters
    ----------
    n : int
        Workers.
    s : int
        Stragglers, ``0 <= s < n``.
    trials : int
        Number of masks.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray of bool, shape (trials, n)

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


def masks_from_stragglers(n, straggler_sets):
    """Survivor masks from straggler index sets: row ``t`` is ``False`` exactly at ``straggler_sets[t]``.

    Parameters
    ----------
    n : int
        Workers.
    straggler_sets : iterable of sequences of int, or array_like of shape (m, s)
        The stragglers of each pattern (sets may differ in size when given as a list).

    Returns
    -------
    numpy.ndarray of bool, shape (m, n)

    Raises
    ------
    ValueError
        If a straggler index lies outside ``[0, n - 1]``.

    Examples
    --------
    >>> masks_from_stragglers(4, [[0, 2], [3]]).astype(int)
    array([[0, 1, 0, 1],
           [1, 1, 1, 0]])
    """
    n = check_int("n", n, low=1)
    if isinstance(straggler_sets, np.ndarray) and straggler_sets.ndim == 2:
        sets = straggler_sets.astype(np.int64, copy=False)
        if sets.size and (sets.min() < 0 or sets.max() >= n):
            raise ValueError(f"straggler_sets must hold worker indices in [0, {n - 1}]")
        masks = np.ones((sets.shape[0], n), dtype=bool)
        np.put_along_axis(masks, sets, False, axis=1)
        return masks
    sets = [np.asarray(stragglers, dtype=np.int64).reshape(-1) for stragglers in straggler_sets]
    masks = np.ones((len(sets), n), dtype=bool)
    for row, stragglers in enumerate(sets):
        if stragglers.size and (stragglers.min() < 0 or stragglers.max() >= n):
            raise ValueError(f"straggler_sets[{row}] must hold worker indices in [0, {n - 1}], got {stragglers.tolist()}")
        masks[row, stragglers] = False
    return masks


def all_straggler_sets(n, s, max_sets=None):
    """All ``C(n, s)`` survivor masks with exactly ``s`` stragglers, in lexicographic order.

    Parameters
    ----------
    n : int
        Workers.
    s : int
        Stragglers, ``0 <= s < n``.
    max_sets : int, optional
        Refuse when ``C(n, s)`` exceeds it (default :data:`MAX_SETS`, about 400 MB of masks at ``n = 100``).

    Returns
    -------
    numpy.ndarray of bool, shape (C(n, s), n)

    Raises
    ------
    ValueError
        If ``s`` is out of range or ``C(n, s) > max_sets`` (the message gives the count), before
        any memory is allocated.

    Examples
    --------
    >>> all_straggler_sets(3, 1).astype(int)
    array([[0, 1, 1],
           [1, 0, 1],
           [1, 1, 0]])
    """
    n = check_int("n", n, low=1)
    s = check_int("s", s, low=0, high=n - 1)
    max_sets = MAX_SETS if max_sets is None else check_int("max_sets", max_sets, low=1)
    count = math.comb(n, s)
    if count > max_sets:
        raise ValueError(f"s={s}: C({n}, {s}) = {count} straggler sets exceed max_sets={max_sets} "
                         f"({count * n / 1e9:.3g} GB of masks); sample them with fixed_masks instead")
    if s == 0:
        return np.ones((1, n), dtype=bool)
    return masks_from_stragglers(n, np.array(list(itertools.combinations(range(n), s)), dtype=np.int64))


def bernoulli_enumeration(n, p):
    r"""Every survivor pattern with its probability under Bernoulli(``p``) failures.

    Pattern weights are :math:`p^{s}(1-p)^{n-s}`; only for ``n <= MAX_ENUMERATION_N``.

    Returns
    -------
    masks : numpy.ndarray, shape (2**n, n)
    weights : numpy.ndarray, shape (2**n,)
        Probabilities summing to one.

    Parameters
    ----------
    n : int
        Workers, ``1 <= n <= MAX_ENUMERATION_N``.
    p : float
        Failure probability in ``[0, 1)``.
    """
    n = check_int("n", n, low=1, high=MAX_ENUMERATION_N)
    p = check_probability("p", p)
    codes = np.arange(2**n, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
    s = n - masks.sum(axis=1)
    weights = p**s * (1.0 - p) ** (n - s)
    return masks, weights


class FailureModel:
    r"""Which workers answer in each iteration of a simulated run.

    Parameters
    ----------
    kind : {"none", "bernoulli", "fixed", "adversarial"}
        ``"none"``: every worker answers. ``"bernoulli"``: each worker fails independently
        with probability ``p``, drawn afresh every iteration. ``"fixed"``: ``s`` stragglers
        chosen uniformly at random every iteration. ``"adversarial"``: the same straggler set
        ``stragglers`` in every iteration (:func:`agc.training.train` finds it once with
        :func:`agc.worst_case`, ``method="search"``; the optimal error depends only on ``B``
        and ``S``, not on the gradients, so the worst set does not change during training).
    n : int
        Workers.
    p : float
        Failure probability (``"bernoulli"``).
    s : int, optional
        Stragglers (``"fixed"``), ``0 <= s < n``.
    stragglers : sequence of int, optional
        The set (``"adversarial"``).
    seed : int or numpy.random.Generator, optional

    Attributes
    ----------
    p : float
        The probability that a given worker is absent in an iteration, which the unbiased
        decoder rescales by: ``p`` for Bernoulli, ``s/n`` for ``"fixed"`` (each worker is absent
        with probability ``s/n``, so :math:`D_{\mathrm{full}}[:, S] \cdot n/(n-s)` is unbiased
        there too) and for ``"adversarial"`` (where no decoder is unbiased), ``0`` for ``"none"``.
    s : int or None
    stragglers : tuple of int or None

    Raises
    ------
    ValueError
        For an unknown ``kind``, a missing ``s`` or ``stragglers``, or a value out of range.

    Examples
    --------
    >>> failures = FailureModel("fixed", 6, s=2, seed=0)
    >>> int(failures.sample().sum()), failures.p
    (4, 0.3333333333333333)
    >>> FailureModel("adversarial", 4, stragglers=[3]).sample().astype(int)
    array([1, 1, 1, 0])
    """

    def __init__(self, kind, n, *, p=0.2, s=None, stragglers=None, seed=None):
        if kind not in FAILURE_MODELS:
            raise ValueError(f"unknown failure model {kind!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
        self.kind = kind
        self.n = check_int("n", n, low=1)
        self.rng = as_generator(seed)
        self.s = None
        self.stragglers = None
        if kind == "fixed":
            if s is None:
                raise ValueError("failure model 'fixed' needs the number of stragglers s")
            self.s = check_int("s", s, low=0, high=self.n - 1)
        if kind == "adversarial":
            if stragglers is None:
                raise ValueError("failure model 'adversarial' needs the straggler set: stragglers=...")
            self._mask = masks_from_stragglers(self.n, [stragglers])[0]
            self.stragglers = tuple(int(j) for j in np.flatnonzero(~self._mask))
            self.s = len(self.stragglers)
            if self.s >= self.n:
                raise ValueError(f"stragglers must leave at least one of the n={self.n} workers, got {list(stragglers)}")
        if kind == "bernoulli":
            self.p = check_probability("p", p)
        else:
            self.p = (self.s or 0) / self.n

    def sample(self):
        """The survivors of one iteration, a boolean mask of length ``n``.

        Returns
        -------
        numpy.ndarray of bool, shape (n,)
        """
        if self.kind == "bernoulli":
            return bernoulli_masks(self.n, self.p, 1, seed=self.rng)[0]
        if self.kind == "fixed":
            return fixed_masks(self.n, self.s, 1, seed=self.rng)[0]
        if self.kind == "adversarial":
            return self._mask.copy()
        return np.ones(self.n, dtype=bool)
