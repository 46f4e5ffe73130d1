r"""Failure models: which workers the parameter server hears from (book chapters *Notation and model*
and *Heterogeneous and bursty failures*).

Every function returns survivor masks: boolean arrays of shape ``(m, n)`` whose ``True``
entries are the workers that answered. :class:`FailureModel` draws one mask per iteration for
the simulated training.

* Independent failures: :func:`bernoulli_masks`, with one probability ``p`` for every worker or
  a vector of per-worker probabilities :math:`p_j` (heterogeneous workers).
* Failures that persist across iterations: :func:`markov_masks`, a two-state Markov chain per
  worker (the Gilbert model of bursty channels; Gilbert–Elliott with a loss probability of one
  in the bad state and zero in the good one). It is parameterised by what one measures on a
  cluster: the stationary failure rate :math:`p_j` and the mean length :math:`L_j` of a run of
  consecutive failed iterations. In every single iteration the workers fail independently with
  probabilities :math:`p_j`, exactly as under :func:`bernoulli_masks`; only the dependence in
  time differs.
* Exactly ``s`` stragglers: :func:`fixed_masks`, :func:`all_straggler_sets`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from agc._checks import as_generator, check_int, check_probability, survivor_mask

__all__ = [
    "FAILURE_MODELS",
    "MAX_ENUMERATION_N",
    "FailureModel",
    "all_straggler_sets",
    "bernoulli_enumeration",
    "bernoulli_masks",
    "failure_probabilities",
    "fixed_masks",
    "markov_masks",
    "markov_transitions",
    "masks_from_stragglers",
]

#: Largest ``n`` for which exact enumeration over all ``2**n`` patterns is offered.
MAX_ENUMERATION_N = 20
#: Largest number of straggler sets :func:`all_straggler_sets` materialises by default.
MAX_SETS = 4_000_000
#: Failure models of :class:`FailureModel`.
FAILURE_MODELS = ("none", "bernoulli", "markov", "fixed", "adversarial")


def failure_probabilities(n, p, name="p"):
    """Per-worker failure probabilities: one probability for every worker, or one per worker.

    Parameters
    ----------
    n : int
        Workers.
    p : float or array_like of shape (n,)
        A probability in ``[0, 1)`` shared by every worker, or worker ``j``'s own ``p[j]``.
    name : str
        The parameter named in the errors.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)

    Raises
    ------
    TypeError
        If ``p`` is not a real number or a numeric vector.
    ValueError
        If a vector does not have length ``n``, or an entry is not finite or lies outside ``[0, 1)``.

    Examples
    --------
    >>> failure_probabilities(3, 0.25)
    array([0.25, 0.25, 0.25])
    >>> failure_probabilities(3, [0.0, 0.1, 0.5])
    array([0. , 0.1, 0.5])
    """
    n = check_int("n", n, low=1)
    if np.ndim(p) == 0:
        return np.full(n, check_probability(name, p.item() if isinstance(p, np.ndarray) else p))
    try:
        values = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or a vector of n={n} real numbers, got {p!r}") from None
    if values.shape != (n,):
        raise ValueError(f"{name} must be a probability or a vector of one per worker (length n={n}), "
                         f"got shape {values.shape}")
    bad = ~(np.isfinite(values) & (values >= 0.0) & (values < 1.0))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{j}] must lie in [0, 1), got {values[j]}")
    return values


def bernoulli_masks(n, p, trials, seed=None):
    r"""Survivor masks with each worker failing independently, worker ``j`` with probability ``p_j``.

    Worker ``j`` is absent from a mask with probability :math:`p_j` (``p`` itself when ``p`` is
    a number), independently of the other workers and of the other masks. With a common ``p``
    the masks are those of the same seed with ``p`` repeated ``n`` times.

    Parameters
    ----------
    n : int
        Workers.
    p : float or array_like of shape (n,)
        Failure probability in ``[0, 1)``, common or one per worker (:func:`failure_probabilities`).
    trials : int
        Number of masks.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    numpy.ndarray of bool, shape (trials, n)

    Raises
    ------
    ValueError
        If ``p`` has the wrong length or an entry outside ``[0, 1)``, or ``trials < 1``.

    Examples
    --------
    >>> bernoulli_masks(5, 0.0, 2, seed=0).all()
    np.True_
    >>> bernoulli_masks(3, [0.0, 0.0, 0.9], 1000, seed=0).mean(axis=0).round(1)  # worker 2 mostly absent
    array([1. , 1. , 0.1])
    """
    n = check_int("n", n, low=1)
    p = failure_probabilities(n, p)
    trials = check_int("trials", trials, low=1)
    return as_generator(seed).random((trials, n)) >= p


def markov_transitions(n, p, burst):
    r"""Transition probabilities of the two-state failure chain with stationary rate ``p`` and mean burst ``burst``.

    A worker is *up* (answers) or *down* (fails). From down it recovers with probability
    :math:`r = 1/L` per iteration, so a run of failed iterations (a burst) has a geometric
    length of mean :math:`L`. From up it fails with probability :math:`f`; the stationary
    probability of being down is :math:`f/(f + r)`, which equals :math:`p` for

    .. math:: f = \frac{p}{(1 - p) L}, \qquad r = \frac1L,

    possible when :math:`f \le 1`, i.e. :math:`L \ge \max(1, p/(1-p))`. The failure indicator
    :math:`X_t` of a stationary chain has autocorrelation :math:`\rho^{|t|}` with
    :math:`\rho = 1 - f - r = 1 - \frac{1}{(1-p)L}`; :math:`L = 1/(1-p)` gives :math:`\rho = 0`,
    independent failures (the bursts of i.i.d. Bernoulli failures have mean length
    :math:`1/(1-p)`), longer bursts give :math:`\rho > 0` and :math:`1 \le L < 1/(1-p)`
    alternating failures (:math:`\rho < 0`).

    Parameters
    ----------
    n : int
        Workers.
    p : float or array_like of shape (n,)
        Stationary failure rates in ``[0, 1)``, common or one per worker.
    burst : float or array_like of shape (n,)
        Mean burst lengths :math:`L_j`, common or one per worker, each ``>= 1`` and ``>= p_j/(1-p_j)``.

    Returns
    -------
    fail : numpy.ndarray, shape (n,)
        :math:`f_j`, the probability that an up worker is down in the next iteration.
    recover : numpy.ndarray, shape (n,)
        :math:`r_j = 1/L_j`, the probability that a down worker is up in the next iteration.

    Raises
    ------
    ValueError
        If ``p`` or ``burst`` has the wrong length, an entry of ``p`` lies outside ``[0, 1)``,
        or a burst length is not finite, below 1, or too short for its rate (``L < p/(1-p)``).

    References
    ----------
    E. N. Gilbert, *Capacity of a burst-noise channel*, Bell Syst. Tech. J. 39(5), 1960;
    E. O. Elliott, *Estimates of error rates for codes on burst-noise channels*, Bell Syst.
    Tech. J. 42(5), 1963.

    Examples
    --------
    >>> fail, recover = markov_transitions(2, 0.2, [1.25, 5.0])  # 1.25 = 1/(1 - p): independent
    >>> fail.round(3), recover.round(3), (1 - fail - recover).round(3)
    (array([0.2 , 0.05]), array([0.8, 0.2]), array([0.  , 0.75]))
    """
    p = failure_probabilities(n, p)
    burst = _burst_lengths(n, burst)
    shortest = p / (1.0 - p)
    if np.any(burst < shortest):
        j = int(np.flatnonzero(burst < shortest)[0])
        raise ValueError(f"burst[{j}] = {burst[j]} is too short for the failure rate p[{j}] = {p[j]}: "
                         f"a chain down a fraction p of the time needs a mean burst >= p/(1-p) = {shortest[j]:.6g}")
    return p / ((1.0 - p) * burst), 1.0 / burst


def _burst_lengths(n, burst):
    """Mean burst lengths as a length-``n`` vector, each finite and ``>= 1``."""
    if isinstance(burst, bool):
        raise TypeError(f"burst must be a real number or a vector of n={n} real numbers, got {burst!r}")
    try:
        values = np.asarray(burst, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"burst must be a real number or a vector of n={n} real numbers, got {burst!r}") from None
    scalar = values.ndim == 0
    if scalar:
        values = np.full(n, float(values))
    elif values.shape != (n,):
        raise ValueError(f"burst must be a mean burst length or a vector of one per worker (length n={n}), "
                         f"got shape {values.shape}")
    bad = ~(np.isfinite(values) & (values >= 1.0))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        name = "burst" if scalar else f"burst[{j}]"
        raise ValueError(f"{name} must be a finite mean burst length >= 1 (iterations), got {values[j]}")
    return values


def _markov_step(down, uniforms, fail, recover):
    """The next states of the chains: a down worker recovers when ``u < recover``, an up one fails when ``u < fail``."""
    return np.where(down, uniforms >= recover, uniforms < fail)


def markov_masks(n, p, burst, trials, seed=None, previous=None):
    r"""Survivor masks of ``trials`` consecutive iterations under bursty (two-state Markov) failures.

    Every worker follows its own two-state chain (:func:`markov_transitions`), independently of
    the others, started in its stationary distribution: in **every** iteration worker ``j`` is
    absent with probability :math:`p_j`, independently of the other workers (so every
    single-iteration result of :func:`bernoulli_masks`, the unbiasedness of
    :func:`agc.unbiased_decoder` included, holds unchanged), while a failure persists for
    :math:`L_j` iterations on average. Row ``t`` of the result is iteration ``t``; the rows are
    *not* independent. Given ``previous``, the chains continue from that iteration instead:
    worker ``j`` is then absent in the first row with probability :math:`f_j` if it answered
    in ``previous`` and :math:`1 - r_j` if it did not.

    Parameters
    ----------
    n : int
        Workers.
    p : float or array_like of shape (n,)
        Stationary failure rates in ``[0, 1)``, common or one per worker.
    burst : float or array_like of shape (n,)
        Mean burst lengths (iterations), ``>= 1``; ``burst = 1/(1-p)`` gives independent
        failures, with the law of :func:`bernoulli_masks`.
    trials : int
        Iterations.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same sequence, and the sequence of a :class:`FailureModel`
        ``("markov", ...)`` with that seed.
    previous : array_like, optional
        The survivors of the iteration before the first (index array or boolean mask of length
        ``n``); by default the first row is drawn from the stationary law.

    Returns
    -------
    numpy.ndarray of bool, shape (trials, n)

    Raises
    ------
    ValueError
        As :func:`markov_transitions`, or ``trials < 1``, or ``previous`` is not a mask or an
        index array of workers.

    Examples
    --------
    >>> masks = markov_masks(200, 0.1, 20.0, 500, seed=0)
    >>> round(float(1 - masks.mean()), 2)  # stationary rate
    0.1
    >>> down = ~masks
    >>> round(float((down[1:] & down[:-1]).sum() / down[:-1].sum()), 2)  # P(down next | down) = 1 - 1/L
    0.95
    """
    n = check_int("n", n, low=1)
    fail, recover = markov_transitions(n, p, burst)
    trials = check_int("trials", trials, low=1)
    p = failure_probabilities(n, p)
    if previous is not None:
        previous = survivor_mask(previous, n, name="previous")
    uniforms = as_generator(seed).random((trials, n))
    down = np.empty((trials, n), dtype=bool)
    down[0] = uniforms[0] < p if previous is None else _markov_step(~previous, uniforms[0], fail, recover)
    for t in range(1, trials):
        down[t] = _markov_step(down[t - 1], uniforms[t], fail, recover)
    return ~down


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
    r"""Every survivor pattern with its probability under independent failures with probabilities ``p_j``.

    Pattern weights are :math:`\prod_{j \in S} (1 - p_j) \prod_{j \notin S} p_j`
    (:math:`p^{s}(1-p)^{n-s}` for a common ``p``); only for ``n <= MAX_ENUMERATION_N``.

    Parameters
    ----------
    n : int
        Workers, ``1 <= n <= MAX_ENUMERATION_N``.
    p : float or array_like of shape (n,)
        Failure probability in ``[0, 1)``, common or one per worker.

    Returns
    -------
    masks : numpy.ndarray, shape (2**n, n)
    weights : numpy.ndarray, shape (2**n,)
        Probabilities summing to one.

    Examples
    --------
    >>> masks, weights = bernoulli_enumeration(2, [0.5, 0.1])
    >>> masks.astype(int).tolist(), weights.round(2).tolist()
    ([[0, 0], [1, 0], [0, 1], [1, 1]], [0.05, 0.05, 0.45, 0.45])
    """
    n = check_int("n", n, low=1, high=MAX_ENUMERATION_N)
    p = failure_probabilities(n, p)
    codes = np.arange(2**n, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
    weights = np.prod(np.where(masks, 1.0 - p, p), axis=1)
    return masks, weights


class FailureModel:
    r"""Which workers answer in each iteration of a simulated run.

    Parameters
    ----------
    kind : {"none", "bernoulli", "markov", "fixed", "adversarial"}
        ``"none"``: every worker answers. ``"bernoulli"``: each worker fails independently
        with probability ``p`` (or its own ``p[j]``), drawn afresh every iteration
        (:func:`bernoulli_masks`). ``"markov"``: bursty failures, a two-state chain per worker
        with stationary failure rate ``p`` and mean burst length ``burst`` iterations
        (:func:`markov_masks`; the first iteration is drawn from the stationary law).
        ``"fixed"``: ``s`` stragglers chosen uniformly at random every iteration.
        ``"adversarial"``: the same straggler set ``stragglers`` in every iteration
        (:func:`agc.training.train` finds it once with :func:`agc.worst_case`,
        ``method="search"``; the optimal error depends only on ``B`` and ``S``, not on the
        gradients, so the worst set does not change during training).
    n : int
        Workers.
    p : float or array_like of shape (n,)
        Failure probability (``"bernoulli"``) or stationary failure rate (``"markov"``) in
        ``[0, 1)``, common or one per worker.
    s : int, optional
        Stragglers (``"fixed"``), ``0 <= s < n``.
    stragglers : sequence of int, optional
        The set (``"adversarial"``).
    burst : float or array_like of shape (n,), optional
        Mean burst length in iterations (``"markov"``), ``>= 1``, common or one per worker.
    seed : int or numpy.random.Generator, optional

    Attributes
    ----------
    p : float or numpy.ndarray
        The probability that a given worker is absent in an iteration, which the unbiased
        decoder rescales by (:func:`agc.unbiased_decoder` takes it as it is): ``p`` for
        Bernoulli and Markov failures (an array of shape ``(n,)`` when ``p`` was given per
        worker), ``s/n`` for ``"fixed"`` (each worker is absent with probability ``s/n``, so
        :math:`D_{\mathrm{full}}[:, S] \cdot n/(n-s)` is unbiased there too) and for
        ``"adversarial"`` (where no decoder is unbiased), ``0`` for ``"none"``.
    s : int or None
    stragglers : tuple of int or None
    burst : float, numpy.ndarray or None
        The mean burst length (``"markov"``).

    Raises
    ------
    ValueError
        For an unknown ``kind``, a missing ``s``, ``stragglers`` or ``burst``, or a value out
        of range (the message names the parameter).

    Examples
    --------
    >>> failures = FailureModel("fixed", 6, s=2, seed=0)
    >>> int(failures.sample().sum()), failures.p
    (4, 0.3333333333333333)
    >>> FailureModel("adversarial", 4, stragglers=[3]).sample().astype(int)
    array([1, 1, 1, 0])
    >>> bursty = FailureModel("markov", 3, p=0.2, burst=4.0, seed=1)
    >>> masks = np.array([bursty.sample() for _ in range(5)])
    >>> bool((masks == markov_masks(3, 0.2, 4.0, 5, seed=1)).all())  # the same sequence
    True
    """

    def __init__(self, kind, n, *, p=0.2, s=None, stragglers=None, burst=None, seed=None):
        if kind not in FAILURE_MODELS:
            raise ValueError(f"unknown failure model {kind!r}; valid: {', '.join(map(repr, FAILURE_MODELS))}")
        self.kind = kind
        self.n = check_int("n", n, low=1)
        self.rng = as_generator(seed)
        self.s = None
        self.stragglers = None
        self.burst = None
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
        if kind in ("bernoulli", "markov"):
            rates = failure_probabilities(self.n, p)
            self.p = float(rates[0]) if np.ndim(p) == 0 else rates
        else:
            self.p = (self.s or 0) / self.n
        if kind == "markov":
            if burst is None:
                raise ValueError("failure model 'markov' needs the mean burst length: burst=...")
            self._fail, self._recover = markov_transitions(self.n, self.p, burst)
            self.burst = float(burst) if np.ndim(burst) == 0 else np.asarray(burst, dtype=np.float64)
            self._down = None

    def sample(self):
        """The survivors of one iteration, a boolean mask of length ``n``.

        Returns
        -------
        numpy.ndarray of bool, shape (n,)
        """
        if self.kind == "bernoulli":
            return bernoulli_masks(self.n, self.p, 1, seed=self.rng)[0]
        if self.kind == "markov":
            uniforms = self.rng.random(self.n)
            if self._down is None:
                self._down = uniforms < self.p
            else:
                self._down = _markov_step(self._down, uniforms, self._fail, self._recover)
            return ~self._down
        if self.kind == "fixed":
            return fixed_masks(self.n, self.s, 1, seed=self.rng)[0]
        if self.kind == "adversarial":
            return self._mask.copy()
        return np.ones(self.n, dtype=bool)
