r"""A worker of the runtime: computes its chunks' gradients, encodes them, sends ``⌈d/ℓ⌉`` floats.

Worker ``j`` is rank ``j + 1``. It receives its setup from the PS (its row of the code, the
samples of its own chunks only, the delay model; :func:`receive_setup`), computes one warm-up
gradient and reports ready, then serves iterations until told to stop:

1. a receiver thread blocks on the PS's control messages (``STEP t`` + :math:`\theta_t`, or
   ``STOP``) and queues them with the time each arrived, so that the PS's sends always complete
   at once;
2. the main thread takes the newest ``STEP`` in the queue (older ones are stale and skipped),
   loads :math:`\theta_t`, computes the per-chunk gradients of its chunks with
   :class:`agc.training.ChunkedData` (the simulator's code), encodes them in float64 with
   :meth:`agc.Code.encode_worker` and rounds the message to float32 (the only rounding the wire
   adds, :mod:`agc.runtime.wire`), then sleeps the delay the model draws for ``(j, t)`` and its
   load (:meth:`agc.runtime.delays.Delay.seconds`);
3. it sends the header ``[t, received, sent]`` and the payload :math:`f_j` (``float32``, length
   ``⌈d/ℓ⌉``);
4. on ``STOP`` it sends the header :data:`~agc.runtime.protocol.BYE` and returns.

With ``preempt`` (the default) a ``STEP`` that arrives during the sleep interrupts it: the
work of iteration ``t`` is abandoned, as the PS has moved on and would drop its result, and
the worker starts on the newer parameters, so that every iteration draws fresh delays for
every worker (the model whose order statistics the book compares with). Without ``preempt``
the worker finishes, sends the stale message (the PS drops it by its tag) and only then moves
on. A worker scheduled to exit at iteration ``t`` leaves its process with ``os._exit`` on
receiving ``STEP t`` (at ``t = -1``: on receiving its setup, before reporting ready); one
scheduled to hang stops itself with ``SIGSTOP`` (it stays alive with its connections open, and
says nothing more).

Every wait is bounded: the queue wait by ``idle_timeout``, the gloo operations by the process
group's timeout and by the closing of the PS's connection, which makes them raise at once.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import threading
import time

import torch
import torch.distributed as dist
from torch.nn.utils import vector_to_parameters

from agc.runtime.protocol import (
    BYE,
    PS_RANK,
    SCHEDULED_EXIT_CODE,
    STEP,
    STOP,
    TAG_CONTROL,
    TAG_HEADER,
    TAG_PARAMS,
    TAG_PAYLOAD,
    TAG_READY,
    TAG_SETUP,
    clock_id,
    now_ns,
)
from agc.training import ChunkedData, mlp


class LostServer(RuntimeError):
    """The parameter server's connection closed (it ended or died) or went silent too long."""


def receive_setup():
    """Receive the pickled setup object the PS sends first (:data:`~agc.runtime.protocol.TAG_SETUP`).

    Returns
    -------
    dict
        The setup (:meth:`agc.runtime.server.ParameterServer.setups`), or ``{"abort": reason}``.

    Raises
    ------
    LostServer
        If the PS's connection closes first.
    """
    try:
        size = torch.empty(1, dtype=torch.int64)
        dist.recv(size, PS_RANK, tag=TAG_SETUP)
        data = torch.empty(int(size[0]), dtype=torch.uint8)
        dist.recv(data, PS_RANK, tag=TAG_SETUP)
    except RuntimeError as error:
        raise LostServer(f"lost the parameter server before the setup: {str(error).splitlines()[0]}") from None
    return pickle.loads(data.numpy().tobytes())


def _send(tensor, tag, when):
    """``dist.send`` to the PS; a closed connection becomes :class:`LostServer`."""
    try:
        dist.send(tensor, PS_RANK, tag=tag)
    except RuntimeError as error:
        raise LostServer(f"lost the parameter server {when}: {str(error).splitlines()[0]}") from None


def _receive_commands(d, commands):
    """Receiver thread: queue ``(STEP, t, params, ns)`` / ``(STOP, t, None, ns)``; an error ends the loop."""
    try:
        while True:
            control = torch.empty(2, dtype=torch.int64)
            dist.recv(control, PS_RANK, tag=TAG_CONTROL)
            command, iteration = int(control[0]), int(control[1])
            if command != STEP:
                commands.put((STOP, iteration, None, now_ns()))
                return
            params = torch.empty(d, dtype=torch.float32)
            dist.recv(params, PS_RANK, tag=TAG_PARAMS)
            commands.put((STEP, iteration, params, now_ns()))
    except RuntimeError as error:  # the PS closed its connection or gloo timed out
        commands.put((None, -1, error, now_ns()))


def _newest(commands, first):
    """The newest command queued after ``first``: older ``STEP``s are stale and skipped."""
    current = first
    while current[0] == STEP:
        try:
            current = commands.get_nowait()
        except queue.Empty:
            break
    return current


def _scheduled(setup, iteration):
    """Exit or freeze if the setup schedules it for ``iteration``."""
    if setup["exit_at"] is not None and iteration >= setup["exit_at"]:
        os._exit(SCHEDULED_EXIT_CODE)
    if setup["hang_at"] is not None and iteration >= setup["hang_at"]:
        os.kill(os.getpid(), signal.SIGSTOP)  # frozen: alive, connections open, silent


def serve(setup, idle_timeout):
    """Run worker ``setup["worker"]`` until the PS says ``STOP``.

    Parameters
    ----------
    setup : dict
        Sent by the PS (:meth:`agc.runtime.server.ParameterServer.setups`): ``worker``, ``code``,
        ``X``, ``y`` (its chunks' samples), ``chunks`` (index arrays into ``X``, in increasing
        chunk order), ``samples`` (``N``, all training samples), ``features``, ``hidden``,
        ``classes``, ``delay``, ``exit_at``, ``hang_at``, ``preempt``.
    idle_timeout : float
        Longest wait, in seconds, for the PS's next command.

    Raises
    ------
    LostServer
        If the PS's connection is lost, or no command comes within ``idle_timeout``.
    """
    worker, code, delay = setup["worker"], setup["code"], setup["delay"]
    load = int(code.load[worker])
    _scheduled(setup, -1)
    model = mlp(setup["features"], hidden=setup["hidden"], classes=setup["classes"], seed=0)
    d = sum(p.numel() for p in model.parameters())
    batch = ChunkedData(setup["X"], setup["y"], setup["chunks"])
    # ChunkedData weights samples by 1/N_local; the code needs g_i with weights 1/N (all samples).
    scale = batch.samples / setup["samples"]

    def message():
        G_local, _ = batch.gradients(model)
        return code.encode_worker(worker, G_local.double() * scale).to(torch.float32).contiguous()

    start = time.perf_counter()
    message()  # warm-up: first-call costs are paid here
    _send(torch.tensor([time.perf_counter() - start, float(clock_id())], dtype=torch.float64), TAG_READY,
          "at start-up")
    commands = queue.Queue()
    receiver = threading.Thread(target=_receive_commands, args=(d, commands), name=f"agc-worker{worker}-recv",
                                daemon=True)
    receiver.start()
    pending = None
    while True:
        if pending is None:
            try:
                pending = commands.get(timeout=idle_timeout)
            except queue.Empty:
                raise LostServer(f"no command from the parameter server for {idle_timeout} s") from None
        command, iteration, params, received = _newest(commands, pending)
        pending = None
        if command is None:
            raise LostServer(f"lost the parameter server: {str(params).splitlines()[0]}")
        if command == STOP:
            break
        _scheduled(setup, iteration)
        start = time.perf_counter()
        vector_to_parameters(params, model.parameters())
        payload = message()
        compute = time.perf_counter() - start
        wake = time.perf_counter() + delay.seconds(worker, iteration, compute, load)
        while (remaining := wake - time.perf_counter()) > 0:
            if not setup["preempt"]:
                time.sleep(remaining)
                continue
            try:
                pending = commands.get(timeout=remaining)
            except queue.Empty:
                continue
            break
        if pending is not None:  # preempted by a newer STEP or a STOP (or the PS was lost)
            continue
        _send(torch.tensor([iteration, received, now_ns()], dtype=torch.int64), TAG_HEADER, "while sending")
        _send(payload, TAG_PAYLOAD, "while sending")
    _send(torch.tensor([BYE, 0, now_ns()], dtype=torch.int64), TAG_HEADER, "at the shutdown")
    receiver.join(timeout=idle_timeout)
