r"""The wire protocol between the parameter server (rank 0) and the workers (ranks 1..n).

Every message is a point-to-point ``torch.distributed`` send over gloo. Between one pair of
ranks, messages with the same tag arrive in the order they were sent, and a send completes only
once the receiver has posted a matching receive (gloo's rendezvous), so each direction of each
link carries one ordered stream per tag:

====================  ===============  ===========================================================
tag                   direction        content
====================  ===============  ===========================================================
``TAG_CONTROL``       PS → worker      ``int64 [command, iteration]``; ``command`` is
                                       :data:`STEP` or :data:`STOP`
``TAG_PARAMS``        PS → worker      ``float32 [d]``: the parameters :math:`\theta_t` (after
                                       every ``STEP`` control message, never after ``STOP``)
``TAG_HEADER``        worker → PS      ``int64 [iteration]``: which :math:`\theta_t` the message
                                       was computed from; :data:`BYE` (no payload follows) is a
                                       worker's last message, its answer to ``STOP``
``TAG_PAYLOAD``       worker → PS      ``float32 [⌈d/ℓ⌉]``: the coded message :math:`f_j`
``TAG_READY``         worker → PS      ``float64 [seconds]``: once, after the setup and a warm-up
                                       gradient (its duration), before the first iteration
====================  ===============  ===========================================================

The header and the payload travel as two tensors so that the payload is exactly
:math:`4\lceil d/\ell\rceil` bytes, the quantity the paper saves; the 8-byte header is counted
apart. Before the first iteration the PS sends each worker its setup (code, its chunks' data,
delay model) with ``send_object_list`` and waits for every worker's ``TAG_READY``, so that the
first timed iteration does not include the one-off cost of a process's first gradient.
"""

from __future__ import annotations

#: Rank of the parameter server; worker ``j`` (row ``j`` of ``B``) is rank ``j + 1``.
PS_RANK = 0
TAG_CONTROL = 1
TAG_PARAMS = 2
TAG_HEADER = 3
TAG_PAYLOAD = 4
TAG_READY = 5
#: Control commands.
STEP = 1
STOP = 2
#: Header of a worker's goodbye: the PS can tell a worker that stopped from one that died.
BYE = -1
#: Exit status of a worker that leaves on schedule (``exits=``). It is 0 because ``torchrun``
#: tears the whole job down when any process exits with a non-zero status.
SCHEDULED_EXIT_CODE = 0
#: Bytes of one float32 entry of a message.
FLOAT_BYTES = 4
#: Bytes of one header (one int64).
HEADER_BYTES = 8


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
