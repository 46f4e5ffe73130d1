r"""The runtime's experiments, shared by ``benchmarks/runtime.py`` and the book's chapter *The runtime*.

:func:`strategies` builds the strategies compared on one assignment size (``n`` workers,
``k = n`` chunks, ``s`` stragglers), each with the load it makes a worker carry;
:func:`real_compute` reads a run's real computation back from the workers' headers; and
:func:`measured_and_predicted` puts a run's measured times next to the model of
:mod:`agc.runtime.predict` (order statistics of the charged delays plus bytes over each link's
rate), with the real computation taken from the run itself: what is predicted is what the delays
and the links add to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agc._checks import check_int
from agc.assignments import cyclic
from agc.encodings import block_split, polynomial, rdm, stacking
from agc.runtime.delays import parse_delay
from agc.runtime.predict import expected_iteration, fluid_completions, link_seconds
from agc.runtime.protocol import HEADER_BYTES
from agc.schemes import ignore_stragglers

__all__ = ["STRATEGY_NAMES", "Strategy", "gather_given_sends", "measured_and_predicted", "real_compute", "strategies"]

#: The strategies of :func:`strategies`, in the order the book draws them.
STRATEGY_NAMES = ("wait-for-all", "ignore", "polynomial (ℓ = 1)", "polynomial", "rdm", "block_split", "stacking")


@dataclass(frozen=True)
class Strategy:
    """A scheme, the stragglers its PS tolerates, and the chunks each of its workers holds.

    Attributes
    ----------
    scheme : agc.Code or agc.schemes.Scheme
    s : int
        The PS keeps the first ``n - s`` messages.
    load : int
        Chunks per worker (the compute each worker is charged for).
    """

    scheme: object
    s: int
    load: int


def strategies(n, s, ell, *, seed=0, names=STRATEGY_NAMES):
    r"""The strategies compared by the runtime's chapter, on ``n`` workers and ``k = n`` chunks.

    * ``"wait-for-all"``: uncoded (:math:`B = I`, one chunk per worker), the PS waits for all;
    * ``"ignore"``: uncoded, the PS keeps the first ``n − s`` and rescales their sum by
      :math:`n/(n-s)`;
    * ``"polynomial (ℓ = 1)"``: the Ye–Abbe code with load ``s + 1`` and ``ℓ = 1`` (exact, full-size messages);
    * ``"polynomial"``, ``"rdm"``, ``"block_split"``, ``"stacking"``: the cyclic assignment of
      load ``s + ℓ`` with the exact polynomial code, the paper's RDM encoding, the fair block
      split and the paper's stacking baseline, all with messages of :math:`\lceil d/\ell\rceil`.

    Parameters
    ----------
    n, s, ell : int
        Workers, stragglers (``0 <= s < n``) and communication reduction.
    seed : int
        Seed of the random encodings.
    names : sequence of str
        Which of :data:`STRATEGY_NAMES` to build.

    Returns
    -------
    dict
        Name → :class:`Strategy`, in the order of ``names``.

    Raises
    ------
    ValueError
        For an unknown name or parameters out of range.

    Examples
    --------
    >>> {name: (strategy.s, strategy.load) for name, strategy in strategies(8, 2, 2).items()}["polynomial"]
    (2, 4)
    """
    n = check_int("n", n, low=2)
    s = check_int("s", s, low=0, high=n - 1)
    ell = check_int("ell", ell, low=1)
    load = s + ell
    if load > n:
        raise ValueError(f"load s + ell = {load} exceeds n={n}")
    unknown = sorted(set(names) - set(STRATEGY_NAMES))
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; valid: {list(STRATEGY_NAMES)}")
    build = {
        "wait-for-all": lambda: Strategy(stacking(cyclic(n, n, 1), 1), 0, 1),
        "ignore": lambda: Strategy(ignore_stragglers(n), s, 1),
        "polynomial (ℓ = 1)": lambda: Strategy(polynomial(cyclic(n, n, s + 1), 1), s, s + 1),
        "polynomial": lambda: Strategy(polynomial(cyclic(n, n, load), ell), s, load),
        "rdm": lambda: Strategy(rdm(cyclic(n, n, load), ell, seed=seed), s, load),
        "block_split": lambda: Strategy(block_split(cyclic(n, n, load), ell), s, load),
        "stacking": lambda: Strategy(stacking(cyclic(n, n, load), ell), s, load),
    }
    return {name: build[name]() for name in names}


def _charged(delay, load):
    """The charged sleep of a worker that does not straggle."""
    q = delay.params
    return {"none": 0.0, "fixed": load * q.get("chunk", 0.0), "multiplicative": load * q.get("chunk", 0.0),
            "additive": load * q.get("chunk", 0.0), "bernoulli_ignoring_load": q.get("base", 0.0),
            "shifted_exponential": load * q.get("shift", 0.0) + load * q.get("scale", 0.0) * np.log(2)}[delay.model]


def real_compute(result):
    r"""Median real computation of a worker in a run: its busy time (from its headers) less the charged sleep.

    A worker's header carries when it received :math:`\theta_t` and when it sent its message; the
    difference is its computation plus its sleep. The median over the used messages, less the
    sleep of a worker that does not straggle (for the exponential model, the median sleep), is
    the real computation (never below 0).

    Parameters
    ----------
    result : agc.runtime.RunResult
        A run on one machine (``same_clock``).

    Returns
    -------
    float
        Seconds (``nan`` if the run's clocks are not shared).
    """
    if not result.same_clock:
        return float("nan")
    delay = parse_delay(dict(result.config["delay"]))
    load = max(result.config["load"])
    busy = [sent - got for record in result.iterations if record["sent_seconds"]
            for got, sent in zip(record["received_seconds"], record["sent_seconds"])]
    return max(float(np.median(busy)) - _charged(delay, load), 0.0) if busy else 0.0


def gather_given_sends(result):
    r"""Each iteration's gather as the uplink model predicts it from the times the workers really sent.

    Every message of the run (:attr:`agc.runtime.RunResult.iterations` ``answers``, stale ones
    included) enters one fluid fair-share queue (:func:`agc.runtime.predict.fluid_completions`) at
    its measured send time, needing ``4⌈d/ℓ⌉ + 24`` bytes over the uplink's payload rate; the
    iteration's predicted gather is its ``|S|``-th predicted arrival among the messages of its own
    parameters, less its measured broadcast. This checks the link's part of the model alone: the
    workers' computations and the broadcast are taken as measured.

    Parameters
    ----------
    result : agc.runtime.RunResult
        A run over a shaped link (``network``) on one machine.

    Returns
    -------
    numpy.ndarray
        Predicted gather of each iteration, seconds.

    Raises
    ------
    ValueError
        If the run had no shaped link or its clocks are not shared.
    """
    if not result.network or not result.same_clock:
        raise ValueError("gather_given_sends needs a run over a shaped link with the workers on the PS's clock")
    starts = np.array([record["start_seconds"] for record in result.iterations])
    work = link_seconds(result.message_bytes + HEADER_BYTES, result.network["uplink"])
    messages = sorted((starts[t] + sent, t) for t, record in enumerate(result.iterations)
                      for _, _, sent, _ in record["answers"])
    finished = fluid_completions([sent for sent, _ in messages], work)  # equal work: done in arrival order
    arrivals = {}
    for (_, t), done in zip(messages, finished):
        arrivals.setdefault(t, []).append(done)
    gathers = []
    for t, record in enumerate(result.iterations):
        r = len(record["used"])
        gathers.append(sorted(arrivals[t])[r - 1] - starts[t] - record["broadcast_seconds"] if r else np.nan)
    return np.array(gathers)


def measured_and_predicted(result, name=None, target=None, shares="fair"):
    r"""One row: a run's measured times per iteration (mean, s.e.) beside their predictions.

    The prediction is :func:`agc.runtime.predict.expected_iteration` for the run's delay model,
    its ``n``, ``r = n − s``, ``d``, ``ℓ``, load and shaped link (if any), with the real
    computation :func:`real_compute` of the run, plus the run's median time from the last used
    message to the end of the step (decoding and the optimiser step, measured).

    Parameters
    ----------
    result : agc.runtime.RunResult
    name : str, optional
        The strategy's name (default the run's scheme name).
    target : float, optional
        A training loss: the row then has ``seconds_to_target`` (:meth:`RunResult.time_to_loss`).
    shares : {"fair", "random"}
        How the predicted broadcast shares the downlink (:data:`agc.runtime.predict.SHARES`).

    Returns
    -------
    dict
        ``strategy``, ``ell``, ``load``, ``s``, ``message_bytes``, ``iterations``, ``seconds``,
        ``seconds_se``, ``predicted_seconds``, ``broadcast``, ``predicted_broadcast``, ``gather``,
        ``predicted_gather``, ``gather_given_sends`` (:func:`gather_given_sends`, over a shaped
        link) (seconds; the broadcast and gather are ``nan`` without shared clocks), ``compute``,
        ``final_loss``.
    """
    config = result.config
    delay = parse_delay(dict(config["delay"]))
    n, s, load = config["n"], config["s"], max(config["load"])
    compute = real_compute(result)
    network = result.network or {}
    predicted = expected_iteration(delay, n, n - s, d=result.d, ell=config["ell"], load=load,
                                   compute=0.0 if np.isnan(compute) else compute,
                                   uplink=network.get("uplink"), downlink=network.get("downlink"), shares=shares)
    frame = result.to_frame()
    tail = float(np.median([r["seconds"] - max(r["arrival_seconds"]) for r in result.iterations if r["used"]]))
    seconds = frame["seconds"].to_numpy()
    given = gather_given_sends(result) if result.network and result.same_clock else np.full(len(seconds), np.nan)
    row = {
        "strategy": name or config["scheme"], "ell": config["ell"], "load": load, "s": s,
        "message_bytes": result.message_bytes, "iterations": len(seconds), "seconds": float(seconds.mean()),
        "seconds_se": float(seconds.std(ddof=1) / np.sqrt(len(seconds))) if len(seconds) > 1 else float("nan"),
        "predicted_seconds": predicted["seconds"] + tail,
        "broadcast": float(frame["broadcast_seconds"].mean()), "predicted_broadcast": predicted["broadcast"],
        "gather": float(frame["gather_seconds"].mean()), "predicted_gather": predicted["gather"],
        "gather_given_sends": float(np.nanmean(given)) if np.isfinite(given).any() else float("nan"),
        "compute": compute, "final_loss": result.loss[-1],
    }
    if target is not None:
        row["seconds_to_target"] = result.time_to_loss(target)
    return row
