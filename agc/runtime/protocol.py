r"""The wire protocol between the parameter server (rank 0) and the workers (ranks 1..n).

Every message is a point-to-point ``torch.distributed`` send over gloo. Between one pair of
ranks, messages with the same tag arrive in the order they were sent, and a send completes only
once the receiver has posted a matching receive (gloo's rendezvous), so each direction of each
link carries one ordered stream per tag:

====================  ===============  ===========================================================
tag                   direction        content
====================  ===============  ===========================================================
``TAG_SETUP``         PS → worker      ``int64 [bytes]``, then ``uint8 [bytes]``: the pickled
                                       setup (the code, the worker's chunks' data, the delays),
                                       once, first
``TAG_READY``         worker → PS      ``float64 [seconds, clock]``: once, after the setup and a
                                       warm-up gradient (its duration); ``clock`` identifies the
                                       worker's monotonic clock (:func:`clock_id`)
``TAG_CONTROL``       PS → worker      ``int64 [command, iteration]``; ``command`` is
                                       :data:`STEP` or :data:`STOP`
``TAG_PARAMS``        PS → worker      ``float32 [d]``: the parameters :math:`\theta_t` (after
                                       every ``STEP`` control message, never after ``STOP``)
``TAG_HEADER``        worker → PS      ``int64 [iteration, received, sent]``: which
                                       :math:`\theta_t` the message was computed from, and when
                                       (nanoseconds of the worker's monotonic clock) the worker
                                       had received it and sent its answer; iteration
                                       :data:`BYE` (no payload follows) is a worker's last
                                       message, its answer to ``STOP``
``TAG_PAYLOAD``       worker → PS      ``float32 [⌈d/ℓ⌉]``: the coded message :math:`f_j`
====================  ===============  ===========================================================

The header and the payload travel as two tensors so that the payload is exactly
:math:`4\lceil d/\ell\rceil` bytes, the quantity the paper saves; the 24-byte header is counted
apart. The PS waits for every worker's ``TAG_READY`` (at most ``worker_timeout`` each) before the
first iteration, so that the first timed iteration does not include the one-off cost of a
process's first gradient.

**Clocks.** Every time the runtime measures is read from ``CLOCK_MONOTONIC`` (:func:`now`),
which all processes of one machine share (network namespaces included). The workers' receipt
and send times are therefore comparable with the PS's when :func:`clock_id` (derived from the
kernel's boot id) is the same on both sides; across machines they are not used.
"""

from __future__ import annotations

import time

#: Rank of the parameter server; worker ``j`` (row ``j`` of ``B``) is rank ``j + 1``.
PS_RANK = 0
TAG_CONTROL = 1
TAG_PARAMS = 2
TAG_HEADER = 3
TAG_PAYLOAD = 4
TAG_READY = 5
TAG_SETUP = 6
#: Control commands.
STEP = 1
STOP = 2
#: Iteration of a worker's goodbye header: the PS can tell a worker that stopped from one that died.
BYE = -1
#: Exit status of a worker that leaves on schedule (``exits=``). It is 0 because ``torchrun``
#: tears the whole job down when any process exits with a non-zero status.
SCHEDULED_EXIT_CODE = 0
#: Bytes of one float32 entry of a message.
FLOAT_BYTES = 4
#: Entries (int64) of a worker's header, and its bytes.
HEADER_ENTRIES = 3
HEADER_BYTES = 8 * HEADER_ENTRIES
#: Bytes of the PS's control message (two int64) before every parameter vector.
CONTROL_BYTES = 16


def worker_rank(worker):
    """Rank of worker ``worker`` (0-based row of ``B``).

    Parameters
    ----------
    worker : int

    Returns
    -------
    int
    """
    return worker + 1


def now():
    """Seconds of ``CLOCK_MONOTONIC``, the clock every time of the runtime is read from.

    Returns
    -------
    float
    """
    return time.monotonic()


def now_ns():
    """Nanoseconds of ``CLOCK_MONOTONIC`` (what the workers' headers carry).

    Returns
    -------
    int
    """
    return time.monotonic_ns()


def clock_id():
    """A number that is equal on two processes exactly when they read the same monotonic clock.

    The first 48 bits of the kernel's boot id (``/proc/sys/kernel/random/boot_id``): one machine,
    one boot. ``0`` where the boot id cannot be read (then no clock is taken as shared).

    Returns
    -------
    int
        Below :math:`2^{48}`, so that a float64 carries it exactly.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return int(handle.read().replace("-", "")[:12], 16)
    except (OSError, ValueError):
        return 0
