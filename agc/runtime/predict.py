r"""What an iteration should take: order statistics of the workers' times plus bytes over each link's rate.

An iteration of the runtime (:mod:`agc.runtime.server`) is a broadcast, the workers'
computations, and a gather. With a shaped link (:mod:`agc.runtime.netns`) of payload rates
:math:`R_\downarrow` (PS → workers) and :math:`R_\uparrow` (workers → PS), the model is

* **broadcast**: the PS sends :math:`\theta_t` (``4d`` bytes and a 16-byte control message) to
  each of the ``n`` workers at once over its outgoing link; the link is shared fairly, so every
  worker has it when all ``n`` have, at :math:`B = n (4d + 16)\cdot 8 / R_\downarrow`;
* **compute**: worker ``j`` is ready :math:`a_j` seconds later, its real computation plus its
  straggler delay (:mod:`agc.runtime.delays`), independently across workers;
* **gather**: each ready worker sends ``4⌈d/ℓ⌉`` payload bytes and a 24-byte header into the PS's
  incoming link, shared fairly among the messages in flight (a fluid processor-sharing queue,
  :func:`fluid_completions`); the PS stops at the ``r``-th completed message, and a worker not
  yet ready by then is preempted and sends nothing.

The rates are TCP payload rates, :func:`agc.runtime.netns.tcp_payload_rate` of the configured
ones (frames of 1514 bytes carry 1448). Expectations are exact sums over the :math:`2^n`
straggler patterns of the two-point models (for ``n <=`` :data:`EXACT_UP_TO`), Monte Carlo
otherwise. Without links (``uplink=None``) the gather is the ``r``-th order statistic of the
:math:`a_j` and :func:`expected_iteration` agrees with :func:`agc.runtime.delays.expected_wait`.

What the model leaves out, measured in ``benchmarks/runtime.py``: TCP does not share a link
exactly fairly, so some workers receive :math:`\theta_t` before :math:`B` and their uploads
overlap the end of the broadcast (measured iterations are shorter than predicted when the
broadcast is long); and the CPUs are shared, so the real computation of ``n`` workers at once is
slower than one worker's alone.
"""

from __future__ import annotations

import itertools

import numpy as np

from agc._checks import as_generator, check_int
from agc.code import block_length
from agc.runtime.delays import worker_times
from agc.runtime.netns import tcp_payload_rate
from agc.runtime.protocol import CONTROL_BYTES, FLOAT_BYTES, HEADER_BYTES

__all__ = ["EXACT_UP_TO", "expected_iteration", "fluid_completions", "link_seconds"]

#: Largest ``n`` whose straggler patterns are enumerated exactly (``2^n`` of them).
EXACT_UP_TO = 12


def link_seconds(nbytes, rate):
    """Seconds ``nbytes`` of TCP payload take through a tbf link of ``rate`` bits/s (``0`` for no link).

    Parameters
    ----------
    nbytes : float
    rate : int or None
        Configured bits per second; ``None`` means no shaped link.

    Returns
    -------
    float

    Examples
    --------
    >>> round(link_seconds(8 * 407_080, 100_000_000), 4)  # the 784-128-10 model to 8 workers
    0.2724
    """
    return 0.0 if rate is None else nbytes * 8 / tcp_payload_rate(rate)


def fluid_completions(starts, work):
    r"""Completion times of jobs on one processor-sharing server: equal shares among the jobs present.

    Job ``j`` arrives at ``starts[j]`` needing ``work`` seconds of the whole server; while
    ``m`` jobs are present each is served at rate :math:`1/m`.

    Parameters
    ----------
    starts : array_like
        Arrival times.
    work : float
        Service each job needs, seconds at full rate.

    Returns
    -------
    numpy.ndarray
        Completion times, sorted.

    Examples
    --------
    >>> fluid_completions([0.0, 0.0], 1.0).tolist()  # two at once: both done at 2
    [2.0, 2.0]
    >>> fluid_completions([0.0, 1.0], 1.0).tolist()  # the first is done before the second arrives
    [1.0, 2.0]
    """
    pending = sorted(float(x) for x in starts)
    if work <= 0:
        return np.array(pending)
    done, remaining, time = [], [], pending[0] if pending else 0.0
    index = 0
    while index < len(pending) or remaining:
        if not remaining:
            time = max(time, pending[index])
        while index < len(pending) and pending[index] <= time:
            remaining.append(work)
            index += 1
        share = len(remaining)
        finish = time + min(remaining) * share
        arrival = pending[index] if index < len(pending) else np.inf
        step = min(finish, arrival) - time
        remaining = [left - step / share for left in remaining]
        time += step
        finished = [left for left in remaining if left <= 1e-12 * work]
        done += [time] * len(finished)
        remaining = [left for left in remaining if left > 1e-12 * work]
    return np.array(done)


def _patterns(delay, n, load, compute, samples, seed):
    """``(times, weight)`` pairs: each worker's ready time and the pattern's probability."""
    if delay.model == "shifted_exponential":
        rng = as_generator(seed)
        shift = delay.params["shift"] * np.asarray(load, dtype=float) + np.asarray(compute, dtype=float)
        scale = delay.params["scale"] * np.asarray(load, dtype=float)
        for _ in range(samples):
            yield shift + rng.exponential(1.0, n) * scale, 1.0 / samples
        return
    fast, slow, p = worker_times(delay, n, load, compute)
    if np.all(p == 0) or np.all(fast == slow):
        yield fast, 1.0
        return
    if n <= EXACT_UP_TO:
        for pattern in itertools.product((False, True), repeat=n):
            mask = np.array(pattern)
            weight = float(np.prod(np.where(mask, p, 1 - p)))
            if weight > 0:
                yield np.where(mask, slow, fast), weight
        return
    rng = as_generator(seed)
    for _ in range(samples):
        mask = rng.random(n) < p
        yield np.where(mask, slow, fast), 1.0 / samples


def expected_iteration(delay, n, r, *, d, ell=1, load=1, compute=0.0, uplink=None, downlink=None, samples=4000,
                       seed=0):
    r"""Expected broadcast, gather and iteration seconds of the model in the module notes.

    Parameters
    ----------
    delay : agc.runtime.delays.Delay
    n : int
        Workers.
    r : int
        Messages the PS keeps, ``1 <= r <= n``.
    d : int
        Parameters of the model.
    ell : int
        Messages carry ``⌈d/ℓ⌉`` floats.
    load : int or array_like
        Chunks held, one number or one per worker.
    compute : float or array_like
        Real computation of a worker, seconds.
    uplink, downlink : int, optional
        Configured rates in bits/s of the workers → PS and PS → workers directions (``None``:
        no link, communication costs nothing).
    samples : int
        Monte Carlo draws where the patterns are not enumerated.
    seed : int or numpy.random.Generator

    Returns
    -------
    dict
        ``broadcast``, ``gather`` (from the end of the broadcast to the ``r``-th message),
        ``seconds`` (their sum) and ``upload`` (one message alone on the uplink), in seconds.

    Examples
    --------
    >>> from agc.runtime.delays import expected_wait, parse_delay
    >>> delay = parse_delay("multiplicative:chunk=1,p=0.2,factor=5")
    >>> abs(expected_iteration(delay, 8, 6, d=10, load=4)["seconds"] - expected_wait(delay, 8, 6, load=4)) < 1e-12
    True
    >>> times = expected_iteration(parse_delay("fixed:chunk=0.01"), 8, 8, d=101_770, load=1,
    ...                            uplink=100_000_000, downlink=100_000_000)
    >>> round(times["broadcast"], 4), round(times["gather"], 4)  # both move 8 × 407 kB
    (0.2724, 0.2824)
    """
    n = check_int("n", n, low=1)
    r = check_int("r", r, low=1, high=n)
    d = check_int("d", d, low=1)
    samples = check_int("samples", samples, low=1)
    message = FLOAT_BYTES * block_length(d, ell) + HEADER_BYTES
    broadcast = link_seconds(n * (FLOAT_BYTES * d + CONTROL_BYTES), downlink)
    upload = link_seconds(message, uplink)
    gather = 0.0
    for ready, weight in _patterns(delay, n, load, compute, samples, seed):
        if upload == 0:
            gather += weight * float(np.sort(ready)[r - 1])
            continue
        ordered = np.sort(ready)
        # workers not ready by the r-th completion are preempted: add them only while they start in time
        finish = fluid_completions(ordered[:r], upload)[r - 1]
        count = r
        while count < n and ordered[count] < finish:
            count += 1
            finish = fluid_completions(ordered[:count], upload)[r - 1]
        gather += weight * float(finish)
    return {"broadcast": broadcast, "gather": gather, "seconds": broadcast + gather, "upload": upload}
