r"""What an iteration should take: order statistics of the workers' times plus bytes over each link's rate.

An iteration of the runtime (:mod:`agc.runtime.server`) is a broadcast, the workers'
computations, and a gather. With a shaped link (:mod:`agc.runtime.netns`) of payload rates
:math:`R_\downarrow` (PS → workers) and :math:`R_\uparrow` (workers → PS), the model is

* **broadcast**: the PS sends :math:`\theta_t` (``4d`` bytes and a 16-byte control message) to
  each of the ``n`` workers at once over its outgoing link, which carries the ``n`` messages in
  shares :math:`w_j` while they last (generalised processor sharing, :func:`receipt_times`):
  worker ``j`` has :math:`\theta_t` at its receipt time :math:`b_j`. The link is busy until the
  last receipt, at :math:`B = n (4d + 16)\cdot 8 / R_\downarrow` whatever the shares. With
  ``shares="fair"`` (the fair fluid) every :math:`w_j` is equal and every worker receives at
  :math:`B`; with ``shares="random"`` the shares are uniform on the simplex (Dirichlet(1)),
  drawn afresh every iteration, and the receipts spread between :math:`k (4d+16)\cdot 8/R_\downarrow`
  (the ``k``-th, if the link carried one message after another) and :math:`B`;
* **compute**: worker ``j`` is ready :math:`a_j` seconds after its receipt, its real computation
  plus its straggler delay (:mod:`agc.runtime.delays`), independently across workers and of the
  shares;
* **gather**: each ready worker sends ``4⌈d/ℓ⌉`` payload bytes and a 24-byte header into the PS's
  incoming link, shared fairly among the messages in flight (a fluid processor-sharing queue,
  :func:`fluid_completions`); the PS stops at the ``r``-th completed message, and a worker not
  yet ready by then is preempted and sends nothing. The messages need equal work, so they
  complete in the order they start: the PS uses the ``r`` workers that start first.

The times are counted as the runtime counts them (:mod:`agc.runtime.server`): the *broadcast*
until the last *used* worker has :math:`\theta_t` (:math:`\max_{j \in S} b_j`, which is
:math:`B` for the fair fluid), the *gather* from then to the ``r``-th message.

The rates are TCP payload rates, :func:`agc.runtime.netns.tcp_payload_rate` of the configured
ones (frames of 1514 bytes carry 1448). Expectations are exact sums over the :math:`2^n`
straggler patterns of the two-point models (for ``n <=`` :data:`EXACT_UP_TO`) with fair shares,
Monte Carlo otherwise (random shares, or larger ``n``). Without links (``uplink=None``) the gather
is the ``r``-th order statistic of the :math:`a_j` and :func:`expected_iteration` agrees with
:func:`agc.runtime.delays.expected_wait`.

Why random shares: the PS's ``n`` TCP flows start together and none is favoured (in the runs of
``benchmarks/runtime.py`` no worker receives first more often than another), but their windows,
and hence their shares of a FIFO link, differ from one broadcast to the next; the measured first
receipt comes well before :math:`B` (about 0.6–0.75 :math:`B` on the 50 and 100 Mbit/s links),
so early workers compute and upload while the broadcast still runs, which the fair fluid misses.
Shares uniform on the simplex are the assumption that knows only that. Neither bound is what the
link does: the fair fluid has no spread, the random shares too much (their first receipt comes
at 0.39 :math:`B` in expectation for ``n = 8``); ``benchmarks/RESULTS.md`` compares both with
the measured times. What the model leaves out: the CPUs are shared, so the real computation of
``n`` workers at once is slower than one worker's alone, and a worker reads :math:`\theta_t`
late when it does not get a core (the last receipt comes after :math:`B`).
"""

from __future__ import annotations

import itertools

import numpy as np

from agc._checks import as_generator, check_int
from agc.code import block_length
from agc.runtime.delays import worker_times
from agc.runtime.netns import tcp_payload_rate
from agc.runtime.protocol import CONTROL_BYTES, FLOAT_BYTES, HEADER_BYTES

__all__ = ["EXACT_UP_TO", "SHARES", "expected_iteration", "fluid_completions", "link_seconds", "receipt_times"]

#: Largest ``n`` whose straggler patterns are enumerated exactly (``2^n`` of them).
EXACT_UP_TO = 12

#: How the broadcast shares the PS's outgoing link among the ``n`` messages (module notes).
SHARES = ("fair", "random")


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


def receipt_times(shares, nbytes, rate):
    r"""When each of ``n`` messages of ``nbytes``, sent at once through one link in the given shares, is through.

    Generalised processor sharing: while messages ``i`` and ``j`` are both in flight they are
    served in the ratio :math:`w_i / w_j`, and the link is always busy. Ordering the shares
    :math:`w_{(1)} \ge \dots \ge w_{(n)}`, at the ``k``-th completion the ``k`` largest are through
    and message ``(j)``, ``j > k``, has :math:`w_{(j)} / w_{(k)}` of its bytes, so

    .. math:: t_{(k)} = \frac{8\,\mathrm{nbytes}}{R}\Bigl(k + \sum_{j > k} \frac{w_{(j)}}{w_{(k)}}\Bigr),

    between :math:`k` messages' time (one message after another) and :math:`n` messages' time,
    which is the last completion whatever the shares (module notes).

    Parameters
    ----------
    shares : array_like
        Positive weights, one per message (only their ratios matter).
    nbytes : float
        TCP payload bytes of every message.
    rate : int or None
        Configured bits per second (:func:`link_seconds`); ``None``: no link, every time is 0.

    Returns
    -------
    numpy.ndarray
        Completion times, seconds, in the order of ``shares``.

    Raises
    ------
    ValueError
        If ``shares`` is empty or not all positive and finite.

    Examples
    --------
    >>> unit = link_seconds(1000, 100_000_000)
    >>> (receipt_times([1, 1, 1], 1000, 100_000_000) / unit).round(6).tolist()  # fair: all at the end
    [3.0, 3.0, 3.0]
    >>> (receipt_times([1, 2], 1000, 100_000_000) / unit).round(6).tolist()  # 2/3 of the link: through at 1.5
    [2.0, 1.5]
    """
    w = np.asarray(shares, dtype=float)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError(f"shares must be a non-empty list of positive finite weights, got {shares!r}")
    order = np.argsort(-w, kind="stable")
    ordered = w[order]
    after = np.concatenate([np.cumsum(ordered[::-1])[::-1][1:], [0.0]])  # sum of the smaller shares
    times = np.empty_like(w)
    times[order] = link_seconds(nbytes, rate) * (np.arange(1, w.size + 1) + after / ordered)
    return times


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


def _patterns(delay, n, load, compute, samples, rng, exact=True):
    """``(times, weight)`` pairs: each worker's ready time and the pattern's probability.

    With ``exact=False`` always ``samples`` draws of weight ``1/samples``, even where the times
    do not vary (the caller draws something else, the shares, with each).
    """
    if delay.model == "shifted_exponential":
        shift = delay.params["shift"] * np.asarray(load, dtype=float) + np.asarray(compute, dtype=float)
        scale = delay.params["scale"] * np.asarray(load, dtype=float)
        for _ in range(samples):
            yield shift + rng.exponential(1.0, n) * scale, 1.0 / samples
        return
    fast, slow, p = worker_times(delay, n, load, compute)
    if exact and (np.all(p == 0) or np.all(fast == slow)):
        yield fast, 1.0
        return
    if exact and n <= EXACT_UP_TO:
        for pattern in itertools.product((False, True), repeat=n):
            mask = np.array(pattern)
            weight = float(np.prod(np.where(mask, p, 1 - p)))
            if weight > 0:
                yield np.where(mask, slow, fast), weight
        return
    for _ in range(samples):
        mask = rng.random(n) < p
        yield np.where(mask, slow, fast), 1.0 / samples


def expected_iteration(delay, n, r, *, d, ell=1, load=1, compute=0.0, uplink=None, downlink=None,
                       shares="fair", samples=4000, seed=0):
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
    shares : {"fair", "random"}
        How the broadcast shares the downlink (:data:`SHARES`, module notes): equally (every
        worker receives at :math:`B`) or in shares uniform on the simplex, drawn per iteration.
    samples : int
        Monte Carlo draws where the patterns are not enumerated (always with random shares).
    seed : int or numpy.random.Generator

    Returns
    -------
    dict
        ``broadcast`` (until the last used worker has :math:`\theta_t`), ``gather`` (from then to
        the ``r``-th message), ``seconds`` (their sum) and ``upload`` (one message alone on the
        uplink), in seconds.

    Raises
    ------
    ValueError
        For ``shares`` not in :data:`SHARES`, or counts out of range.

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
    >>> spread = expected_iteration(parse_delay("fixed:chunk=0.01"), 8, 8, d=101_770, load=1,
    ...                             uplink=100_000_000, downlink=100_000_000, shares="random")
    >>> round(spread["broadcast"], 4), spread["seconds"] < times["seconds"]  # the uploads overlap the broadcast
    (0.2724, True)
    """
    n = check_int("n", n, low=1)
    r = check_int("r", r, low=1, high=n)
    d = check_int("d", d, low=1)
    samples = check_int("samples", samples, low=1)
    if shares not in SHARES:
        raise ValueError(f"shares must be one of {list(SHARES)}, got {shares!r}")
    rng = as_generator(seed)
    message = FLOAT_BYTES * block_length(d, ell) + HEADER_BYTES
    theta = FLOAT_BYTES * d + CONTROL_BYTES
    fair = receipt_times(np.ones(n), theta, downlink)
    upload = link_seconds(message, uplink)
    broadcast = gather = 0.0
    for ready, weight in _patterns(delay, n, load, compute, samples, rng, exact=shares == "fair"):
        received = fair if shares == "fair" else receipt_times(rng.exponential(1.0, n), theta, downlink)
        starts = received + ready
        order = np.argsort(starts, kind="stable")
        ordered = starts[order]
        if upload == 0:
            finish = float(ordered[r - 1])
        else:
            # workers not ready by the r-th completion are preempted: add them only while they start in time
            finish = fluid_completions(ordered[:r], upload)[r - 1]
            count = r
            while count < n and ordered[count] < finish:
                count += 1
                finish = fluid_completions(ordered[:count], upload)[r - 1]
        last = float(received[order[:r]].max())  # equal messages complete in the order they start
        broadcast += weight * last
        gather += weight * (float(finish) - last)
    return {"broadcast": broadcast, "gather": gather, "seconds": broadcast + gather, "upload": upload}
