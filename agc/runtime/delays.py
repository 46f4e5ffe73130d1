r"""Straggler models of the runtime: real delays (``time.sleep``) and scheduled exits.

A worker's time in iteration ``t`` is its real computation (gradients of its chunks and the
encoding, ``compute`` seconds) followed by a sleep drawn from one of :data:`DELAY_MODELS`
(book: *Notation and model*, failure models). Draws are independent across workers and iterations and
reproducible: worker ``j`` in iteration ``t`` uses ``numpy.random.default_rng([seed, j, t])``.

The base times model a worker's compute time and do not grow with its load: a worker holding
``δ`` chunks does ``δ`` times the real gradient work, but on the small models of the book that
is a few milliseconds against the tens of milliseconds slept.

Examples
--------
>>> delay = parse_delay("bernoulli:p=0.2,factor=5,base=0.05", seed=0)
>>> delay
Delay(model='bernoulli', params={'base': 0.05, 'p': 0.2, 'factor': 5.0}, seed=0)
>>> round(expected_wait(delay, n=8, r=8) / expected_wait(delay, n=8, r=6), 3)
2.389
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from agc._checks import check_int

#: Delay models: description and parameters (with defaults, in seconds where times).
DELAY_MODELS = {
    "none": {
        "description": "no slow-down: the real computation plus a fixed sleep of `base` seconds",
        "params": {"base": 0.0},
    },
    "shifted_exponential": {
        "description": "sleep `shift` + Exp(mean `scale`) seconds after the real computation, "
                       "independently per worker and iteration",
        "params": {"shift": 0.05, "scale": 0.05},
    },
    "bernoulli": {
        "description": "compute time = real computation + `base` seconds; with probability `p` "
                       "(independently per worker and iteration) it is multiplied by `factor`",
        "params": {"base": 0.05, "p": 0.2, "factor": 5.0},
    },
}


def _check_params(model, params):
    known = DELAY_MODELS[model]["params"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"delay model {model!r} takes parameters {sorted(known)}, got unknown {unknown}")
    values = {}
    for name, default in known.items():
        value = params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"delay parameter {name} must be a finite number, got {value!r}")
        value = float(value)
        if value < 0:
            raise ValueError(f"delay parameter {name} must be >= 0, got {value}")
        values[name] = value
    if model == "bernoulli":
        if values["p"] > 1:
            raise ValueError(f"delay parameter p must lie in [0, 1], got {values['p']}")
        if values["factor"] < 1:
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
        All of the model's parameters (defaults filled in).
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

    def seconds(self, worker, iteration, compute=0.0):
        r"""Seconds worker ``worker`` sleeps in ``iteration`` after computing for ``compute`` seconds.

        ``"none"``: ``base``. ``"shifted_exponential"``: ``shift + Exp(scale)``.
        ``"bernoulli"``: ``base`` normally; with probability ``p`` the whole compute time
        ``compute + base`` is multiplied by ``factor``, so the sleep is
        ``factor·(compute + base) − compute``.

        Examples
        --------
        >>> Delay("bernoulli", {"base": 0.1, "p": 1.0, "factor": 3}).seconds(0, 0, compute=0.02)
        0.34
        """
        q = self.params
        if self.model == "none":
            return q["base"]
        rng = np.random.default_rng([self.seed, worker, iteration])
        if self.model == "shifted_exponential":
            return q["shift"] + float(rng.exponential(q["scale"])) if q["scale"] > 0 else q["shift"]
        slow = rng.random() < q["p"]
        return q["factor"] * (compute + q["base"]) - compute if slow else q["base"]

    def spec(self):
        """The model as the string :func:`parse_delay` reads back, e.g. ``"bernoulli:base=0.05,p=0.2,factor=5.0"``."""
        return self.model + ":" + ",".join(f"{key}={value!r}" for key, value in self.params.items())


def parse_delay(spec=None, seed=0):
    """A :class:`Delay` from ``None``, a name, ``"name:key=value,..."``, a dict or a :class:`Delay`.

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

    Returns
    -------
    Delay

    Examples
    --------
    >>> parse_delay("shifted_exponential:scale=0.1").params
    {'shift': 0.05, 'scale': 0.1}
    >>> parse_delay({"model": "none", "base": 0.01}).params
    {'base': 0.01}
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
        if not sep:
            raise ValueError(f"delay parameters must be name=value, got {pair!r} in {spec!r}")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"delay parameter {key.strip()} must be a number, got {value!r}") from None
    return Delay(model.strip() or "none", params, seed)


def parse_exits(spec, n, name="exits"):
    """Scheduled exits ``{worker: iteration}`` from ``None``, a dict or ``"worker@iteration,..."``.

    Worker ``j`` leaves its process (for real) when it receives the parameters of iteration
    ``exits[j]``, before computing anything for it. ``name`` labels the errors (``"hangs"``
    reads scheduled freezes the same way).

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
        Worker → iteration.

    Raises
    ------
    ValueError
        For a malformed entry, a worker outside ``[0, n - 1]`` or a negative iteration.

    Examples
    --------
    >>> parse_exits("3@5,0@2", n=8)
    {3: 5, 0: 2}
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
                worker, iteration = int(worker), int(iteration)
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
    return {check_int(f"{name}: worker", worker, low=0, high=n - 1): check_int(f"{name}: iteration", it, low=0)
            for worker, it in spec.items()}


def expected_wait(delay, n, r):
    r"""Expected ``r``-th smallest of ``n`` independent sleeps (the real computation taken as 0).

    The PS that keeps the first ``r`` of ``n`` messages waits for the ``r``-th order statistic.

    * ``"bernoulli"``: each time is ``c`` (``base``) or ``c·factor`` (with probability ``p``);
      the ``r``-th smallest is slow iff more than ``n − r`` workers are slow, so
      :math:`E[T_{(r)}] = c\,(1 + (\mathrm{factor} - 1)\,P[\mathrm{Bin}(n, p) > n - r])`.
    * ``"shifted_exponential"``: :math:`E[T_{(r)}] = \mathrm{shift} + \mathrm{scale}\sum_{i=0}^{r-1} \frac{1}{n - i}`
      (Rényi's representation of exponential order statistics).
    * ``"none"``: ``base``.

    Parameters
    ----------
    delay : Delay
    n : int
        Workers.
    r : int
        Messages the PS keeps, ``1 <= r <= n``.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> d = parse_delay("bernoulli:base=1,p=0.2,factor=5")
    >>> round(expected_wait(d, 8, 8), 4), round(expected_wait(d, 8, 6), 4)
    (4.3289, 1.8123)
    """
    n = check_int("n", n, low=1)
    r = check_int("r", r, low=1, high=n)
    q = delay.params
    if delay.model == "none":
        return q["base"]
    if delay.model == "shifted_exponential":
        return q["shift"] + q["scale"] * sum(1.0 / (n - i) for i in range(r))
    p = q["p"]
    tail = sum(math.comb(n, m) * p**m * (1 - p) ** (n - m) for m in range(n - r + 1, n + 1))
    return q["base"] * (1 + (q["factor"] - 1) * tail)
