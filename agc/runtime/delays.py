r"""Straggler models of the runtime: compute charged per unit of work, real delays, and their order statistics.

A worker's time in iteration ``t`` is its real computation (the gradients of its chunks and the
encoding, ``compute`` seconds) followed by a sleep drawn from one of :data:`DELAY_MODELS`
(book: *Notation and model*, failure models). The models charge compute **per unit of work**: a
worker holding ``load`` chunks is charged ``load · chunk`` seconds, so that a code's extra
computation costs what it costs. Stragglers are

* **multiplicative** (``"multiplicative"``): with probability ``p`` the whole compute time is
  multiplied by ``factor`` (a slower machine);
* **additive** (``"additive"``): with probability ``p`` an extra ``extra`` seconds are added
  whatever the load (a pre-empted or overloaded machine);
* exponential (``"shifted_exponential"``): ``load · shift`` plus an exponential time of mean
  ``load · scale`` (each chunk a task of the same law, as in Lee et al., *Speeding up distributed machine
  learning using codes*, IEEE Trans. Inf. Theory 64(3), 2018).

``p`` is one probability for every worker or a list of ``n`` (heterogeneous workers). The model
of the first runtime, whose compute time did not grow with the load, is kept only as
``"bernoulli_ignoring_load"``: under it a coded worker holding ``s + ℓ`` chunks is charged as
much as an uncoded worker holding one.

Draws are independent across workers and iterations and reproducible: worker ``j`` in iteration
``t`` uses ``numpy.random.default_rng([seed, j, t])``, and its first uniform decides whether it
is slow in every two-point model, so that the same seed gives the same straggler pattern under
the multiplicative and the additive model.

Examples
--------
>>> delay = parse_delay("multiplicative:chunk=0.01,p=0.2,factor=5", seed=0)
>>> delay
Delay(model='multiplicative', params={'chunk': 0.01, 'p': 0.2, 'factor': 5.0}, seed=0)
>>> round(expected_wait(delay, n=8, r=6, load=4) / expected_wait(delay, n=8, r=8, load=1), 3)
1.675
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from agc._checks import check_int

#: Delay models: description and parameters (with defaults; times in seconds, ``p`` a probability
#: or a list of one per worker).
DELAY_MODELS = {
    "none": {
        "description": "no sleep: a worker's time is its real computation only",
        "params": {},
    },
    "fixed": {
        "description": "real computation + `chunk` seconds per chunk held",
        "params": {"chunk": 0.01},
    },
    "multiplicative": {
        "description": "compute time = real computation + `chunk` seconds per chunk held; with probability `p` "
                       "(per worker and iteration) it is multiplied by `factor`",
        "params": {"chunk": 0.01, "p": 0.2, "factor": 5.0},
    },
    "additive": {
        "description": "compute time = real computation + `chunk` seconds per chunk held; with probability `p` "
                       "(per worker and iteration) `extra` seconds are added",
        "params": {"chunk": 0.01, "p": 0.2, "extra": 0.2},
    },
    "shifted_exponential": {
        "description": "real computation + `shift` seconds per chunk + Exp(mean `scale` seconds per chunk)",
        "params": {"shift": 0.01, "scale": 0.01},
    },
    "bernoulli_ignoring_load": {
        "description": "IGNORES THE LOAD: compute time = real computation + `base` seconds whatever the chunks "
                       "held; with probability `p` it is multiplied by `factor` (the first runtime's model)",
        "params": {"base": 0.05, "p": 0.2, "factor": 5.0},
    },
}
#: Models whose straggling is one Bernoulli(``p``) draw per worker and iteration.
TWO_POINT = ("multiplicative", "additive", "bernoulli_ignoring_load")


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"delay parameter {name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"delay parameter {name} must be >= 0, got {value}")
    return float(value)


def _probabilities(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) == 0:
            raise ValueError("delay parameter p must be a probability or a non-empty list of one per worker, got []")
        values = tuple(_number("p", v) for v in value)
    else:
        values = (_number("p", value),)
    if any(v > 1 for v in values):
        raise ValueError(f"delay parameter p must lie in [0, 1], got {value!r}")
    return values if isinstance(value, (list, tuple, np.ndarray)) else values[0]


def _check_params(model, params):
    known = DELAY_MODELS[model]["params"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"delay model {model!r} takes parameters {sorted(known)}, got unknown {unknown}")
    values = {}
    for name, default in known.items():
        value = params.get(name, default)
        values[name] = _probabilities(value) if name == "p" else _number(name, value)
    if values.get("factor", 1.0) < 1:
        raise ValueError(f"delay parameter factor must be >= 1, got {values['factor']}")
    return values


@dataclass(frozen=True)
class Delay:
    """A delay model with its parameters and seed (build it with :func:`parse_delay`).

    Attributes
    ----------
    model : str
        A key of :data:`DELAY_MODELS`.
    params : dict
        All of the model's parameters (defaults filled in); ``p`` is a float or a tuple of one
        probability per worker.
    seed : int
        Seed of the draws.
    """

    model: str = "none"
    params: dict = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        if self.model not in DELAY_MODELS:
            raise ValueError(f"unknown delay model {self.model!r}; valid: {', '.join(map(repr, DELAY_MODELS))}")
        object.__setattr__(self, "params", _check_params(self.model, self.params))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))

    def probabilities(self, n):
        """The straggling probability of each of ``n`` workers (zeros for models without one).

        Parameters
        ----------
        n : int

        Returns
        -------
        numpy.ndarray, shape (n,)

        Raises
        ------
        ValueError
            If ``p`` is a list whose length is not ``n``.

        Examples
        --------
        >>> parse_delay("additive:p=0.1|0.5").probabilities(2).tolist()
        [0.1, 0.5]
        """
        n = check_int("n", n, low=1)
        p = self.params.get("p", 0.0)
        if isinstance(p, tuple):
            if len(p) != n:
                raise ValueError(f"delay parameter p has {len(p)} probabilities but there are n={n} workers")
            return np.array(p, dtype=np.float64)
        return np.full(n, float(p))

    def check_workers(self, n):
        """Check that the model fits ``n`` workers (a list ``p`` has ``n`` entries); return ``self``.

        Parameters
        ----------
        n : int

        Returns
        -------
        Delay

        Raises
        ------
        ValueError
            If ``p`` is a list of another length.
        """
        self.probabilities(n)
        return self

    def _p(self, worker):
        p = self.params["p"]
        return p[worker] if isinstance(p, tuple) else p

    def slow(self, worker, iteration):
        """Whether ``worker`` straggles in ``iteration`` (two-point models; ``False`` otherwise).

        Parameters
        ----------
        worker, iteration : int

        Returns
        -------
        bool
        """
        if self.model not in TWO_POINT:
            return False
        return bool(np.random.default_rng([self.seed, worker, iteration]).random() < self._p(worker))

    def seconds(self, worker, iteration, compute=0.0, load=1):
        r"""Seconds worker ``worker`` sleeps in ``iteration`` after computing for ``compute`` seconds.

        With :math:`c` = ``chunk``, :math:`\delta` = ``load`` and :math:`\rho` the real computation:
        ``"fixed"`` sleeps :math:`\delta c`; ``"multiplicative"`` :math:`\delta c`, or when slow
        :math:`f(\rho + \delta c) - \rho` (the whole time times ``factor``); ``"additive"``
        :math:`\delta c`, plus ``extra`` when slow; ``"shifted_exponential"``
        :math:`\delta\,\mathrm{shift} + \mathrm{Exp}(\delta\,\mathrm{scale})`;
        ``"bernoulli_ignoring_load"`` ``base``, or :math:`f(\rho + \mathrm{base}) - \rho` when slow.

        Parameters
        ----------
        worker, iteration : int
        compute : float
            The worker's real computation in this iteration, seconds.
        load : int
            Chunks the worker holds.

        Returns
        -------
        float

        Examples
        --------
        >>> Delay("multiplicative", {"chunk": 0.1, "p": 1.0, "factor": 3}).seconds(0, 0, compute=0.02, load=2)
        0.64
        >>> Delay("additive", {"chunk": 0.1, "p": 1.0, "extra": 0.5}).seconds(0, 0, load=2)
        0.7
        """
        q, model = self.params, self.model
        if model == "none":
            return 0.0
        if model == "fixed":
            return load * q["chunk"]
        if model == "shifted_exponential":
            rng = np.random.default_rng([self.seed, worker, iteration])
            scale = load * q["scale"]
            return load * q["shift"] + (float(rng.exponential(scale)) if scale > 0 else 0.0)
        slow = self.slow(worker, iteration)
        if model == "additive":
            return load * q["chunk"] + (q["extra"] if slow else 0.0)
        charged = q["base"] if model == "bernoulli_ignoring_load" else load * q["chunk"]
        return q["factor"] * (compute + charged) - compute if slow else charged

    def spec(self):
        """The model as the string :func:`parse_delay` reads back, e.g. ``"additive:chunk=0.01,p=0.2,extra=0.2"``.

        Returns
        -------
        str
        """
        def text(value):
            return "|".join(map(repr, value)) if isinstance(value, tuple) else repr(value)

        return self.model + ":" + ",".join(f"{key}={text(value)}" for key, value in self.params.items())

    def to_dict(self):
        """JSON-ready: ``{"model": ..., **params}`` (a per-worker ``p`` as a list).

        Returns
        -------
        dict
        """
        return {"model": self.model, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}}


def parse_delay(spec=None, seed=0):
    """A :class:`Delay` from ``None``, a name, ``"name:key=value,..."``, a dict or a :class:`Delay`.

    In a string, a per-worker ``p`` is written ``p=0.1|0.1|0.5|...`` (one value per worker).

    Parameters
    ----------
    spec : None, str, dict or Delay
        ``None`` means ``"none"``. A dict has the key ``"model"`` and the parameters.
    seed : int
        Seed of the draws (ignored when ``spec`` is already a :class:`Delay`).

    Raises
    ------
    ValueError
        For an unknown model or parameter, or a value out of range.
    TypeError
        For a ``spec`` of another type.

    Returns
    -------
    Delay

    Examples
    --------
    >>> parse_delay("shifted_exponential:scale=0.1").params
    {'shift': 0.01, 'scale': 0.1}
    >>> parse_delay({"model": "fixed", "chunk": 0.02}).params
    {'chunk': 0.02}
    >>> parse_delay("additive:p=0.1|0.3,extra=1").params
    {'chunk': 0.01, 'p': (0.1, 0.3), 'extra': 1.0}
    """
    if isinstance(spec, Delay):
        return spec
    if spec is None:
        return Delay("none", {}, seed)
    if isinstance(spec, dict):
        params = dict(spec)
        return Delay(params.pop("model", "none"), params, seed)
    if not isinstance(spec, str):
        raise TypeError(f"delay must be None, a str, a dict or a Delay, got {type(spec).__name__}")
    model, _, text = spec.partition(":")
    params = {}
    for pair in filter(None, (item.strip() for item in text.split(","))):
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"delay parameters must be name=value, got {pair!r} in {spec!r}")
        if key in params:
            raise ValueError(f"delay parameter {key} given twice in {spec!r}")
        try:
            numbers_ = [float(v) for v in value.split("|")]
        except ValueError:
            raise ValueError(f"delay parameter {key} must be a number, got {value!r}") from None
        params[key] = numbers_ if "|" in value else numbers_[0]
    return Delay(model.strip() or "none", params, seed)


def parse_exits(spec, n, name="exits"):
    """Scheduled exits ``{worker: iteration}`` from ``None``, a dict or ``"worker@iteration,..."``.

    Worker ``j`` leaves its process (for real) when it receives the parameters of iteration
    ``exits[j]``, before computing anything for it. Iteration ``-1`` (written ``start`` in a
    string) means during start-up: after receiving its setup, before reporting ready.
    ``name`` labels the errors (``"hangs"`` reads scheduled freezes the same way).

    Parameters
    ----------
    spec : None, dict or str
    n : int
        Workers.
    name : str
        The option named in errors.

    Returns
    -------
    dict
        Worker → iteration (``-1``: start-up).

    Raises
    ------
    ValueError
        For a malformed entry, a worker outside ``[0, n - 1]``, a worker given twice or an
        iteration below ``-1``.
    TypeError
        For a ``spec`` of another type.

    Examples
    --------
    >>> parse_exits("3@5,0@start", n=8)
    {3: 5, 0: -1}
    >>> parse_exits({9: 1}, n=8)
    Traceback (most recent call last):
    ...
    ValueError: exits: worker must be <= 7, got 9
    """
    if spec is None or spec == "":
        return {}
    if isinstance(spec, str):
        pairs = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            worker, sep, iteration = item.partition("@")
            try:
                worker, iteration = int(worker), -1 if iteration.strip() == "start" else int(iteration)
            except ValueError:
                raise ValueError(f"{name} must look like 'worker@iteration,...', got {spec!r}") from None
            if not sep:
                raise ValueError(f"{name} must look like 'worker@iteration,...', got {spec!r}")
            if worker in pairs:
                raise ValueError(f"{name}: worker {worker} given twice in {spec!r}")
            pairs[worker] = iteration
        spec = pairs
    if not isinstance(spec, dict):
        raise TypeError(f"{name} must be None, a dict or a str, got {type(spec).__name__}")
    return {check_int(f"{name}: worker", worker, low=0, high=n - 1): check_int(f"{name}: iteration", it, low=-1)
            for worker, it in spec.items()}


def worker_times(delay, n, load=1, compute=0.0):
    r"""The two values of each worker's time and the probability of the slow one (two-point models).

    Worker ``j``'s time (real computation ``compute_j`` plus its sleep) is ``fast[j]``, or
    ``slow[j]`` with probability ``p[j]``; for the models without straggling ``slow = fast`` and
    ``p = 0``.

    Parameters
    ----------
    delay : Delay
        Not ``"shifted_exponential"`` (a continuous law).
    n : int
    load : int or array_like
        Chunks held, one number or one per worker.
    compute : float or array_like
        Real computation in seconds, one number or one per worker.

    Returns
    -------
    fast, slow, p : numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        For ``"shifted_exponential"``, or arrays of the wrong length.

    Examples
    --------
    >>> fast, slow, p = worker_times(parse_delay("additive:chunk=1,p=0.2,extra=3"), 2, load=[1, 4])
    >>> fast.tolist(), slow.tolist(), p.tolist()
    ([1.0, 4.0], [4.0, 7.0], [0.2, 0.2])
    """
    n = check_int("n", n, low=1)
    load = _per_worker("load", load, n)
    compute = _per_worker("compute", compute, n)
    q, model = delay.params, delay.model
    if model == "shifted_exponential":
        raise ValueError("the shifted exponential model is continuous: it has no two-point times")
    if model == "none":
        return compute, compute.copy(), np.zeros(n)
    if model == "fixed":
        fast = compute + load * q["chunk"]
        return fast, fast.copy(), np.zeros(n)
    p = delay.probabilities(n)
    if model == "additive":
        fast = compute + load * q["chunk"]
        return fast, fast + q["extra"], p
    fast = compute + (q["base"] if model == "bernoulli_ignoring_load" else load * q["chunk"])
    return fast, q["factor"] * fast, p


def _per_worker(name, value, n):
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy() if np.ndim(value) == 0 \
        else np.asarray(value, dtype=np.float64)
    if array.shape != (n,) or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be a non-negative number or a list of n={n}, got {value!r}")
    return array


def poisson_binomial_tail(q, r):
    r"""``P[X >= r]`` for ``X`` the number of successes of independent Bernoulli trials with probabilities ``q``.

    The distribution of :math:`X = \sum_j \mathrm{Bernoulli}(q_j)` by the usual recursion over the
    trials (:math:`O(n^2)`).

    Parameters
    ----------
    q : array_like
        Success probabilities.
    r : int

    Returns
    -------
    float

    Examples
    --------
    >>> round(poisson_binomial_tail([0.5, 0.5], 1), 3)
    0.75
    """
    distribution = np.zeros(len(q) + 1)
    distribution[0] = 1.0
    for probability in q:
        distribution[1:] = distribution[1:] * (1 - probability) + distribution[:-1] * probability
        distribution[0] *= 1 - probability
    return float(distribution[max(r, 0):].sum())


def expected_wait(delay, n, r, load=1, compute=0.0):
    r"""Expected time of the ``r``-th of ``n`` workers to finish: what a PS keeping the first ``r`` waits for.

    Worker ``j``'s time :math:`T_j` is its real computation ``compute_j`` plus its sleep (see
    :meth:`Delay.seconds`), independent across workers. For a non-negative order statistic

    .. math:: E[T_{(r)}] = \int_0^\infty P[T_{(r)} > x]\,dx, \qquad
              P[T_{(r)} > x] = P\Bigl[\textstyle\sum_j \mathbf 1\{T_j \le x\} < r\Bigr],

    a Poisson-binomial tail in the per-worker probabilities :math:`P[T_j \le x]`. For the
    two-point models (each :math:`T_j` is ``fast[j]`` or ``slow[j]``, :func:`worker_times`) the
    integrand is a step function and the integral a finite sum; with equal workers it is
    :math:`E[T_{(r)}] = a + (b - a)\,P[\mathrm{Bin}(n, p) > n - r]`. For the shifted exponential
    with equal loads and computations, Rényi's representation gives
    :math:`\delta\,\mathrm{shift} + \rho + \delta\,\mathrm{scale}\sum_{i=0}^{r-1} \frac{1}{n - i}`;
    otherwise the integral is computed numerically.

    Parameters
    ----------
    delay : Delay
    n : int
        Workers.
    r : int
        Messages the PS keeps, ``1 <= r <= n``.
    load : int or array_like
        Chunks held by each worker (one number, or one per worker).
    compute : float or array_like
        Each worker's real computation in seconds (``0``: the charged times only).

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    With the load ignored (the first runtime's model), waiting for the first 6 of 8 looks 2.4x
    faster than waiting for all 8; charged per chunk, a coded worker holding 4 chunks is slower:

    >>> old = parse_delay("bernoulli_ignoring_load:base=1,p=0.2,factor=5")
    >>> round(expected_wait(old, 8, 8), 4), round(expected_wait(old, 8, 6), 4)
    (4.3289, 1.8123)
    >>> fair = parse_delay("multiplicative:chunk=1,p=0.2,factor=5")
    >>> round(expected_wait(fair, 8, 8, load=1), 4), round(expected_wait(fair, 8, 6, load=4), 4)
    (4.3289, 7.2493)
    """
    n = check_int("n", n, low=1)
    r = check_int("r", r, low=1, high=n)
    if delay.model == "shifted_exponential":
        return _exponential_wait(delay, n, r, _per_worker("load", load, n), _per_worker("compute", compute, n))
    fast, slow, p = worker_times(delay, n, load, compute)
    points = np.unique(np.concatenate([fast, slow]))
    total = float(points[0])
    for low, high in itertools.pairwise(points):
        done = np.where(fast <= low, 1 - p, 0.0) + np.where(slow <= low, p, 0.0)
        total += float(high - low) * (1 - poisson_binomial_tail(done, r))
    return total


def _exponential_wait(delay, n, r, load, compute):
    shift = load * delay.params["shift"] + compute
    scale = load * delay.params["scale"]
    if np.all(shift == shift[0]) and np.all(scale == scale[0]):
        return float(shift[0] + scale[0] * sum(1.0 / (n - i) for i in range(r)))
    from scipy.integrate import quad

    def survival(x):
        done = np.where(x >= shift, 1 - np.exp(-np.maximum(x - shift, 0) / np.where(scale > 0, scale, 1)), 0.0)
        done = np.where((scale == 0) & (x >= shift), 1.0, done)
        return 1 - poisson_binomial_tail(done, r)

    start = float(shift.min())
    value, _ = quad(survival, start, np.inf, limit=200)
    return float(start + value)
