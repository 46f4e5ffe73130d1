r"""The parameter server (rank 0): collects coded messages, decodes, steps, and never hangs.

One iteration ``t`` (book: *The runtime*):

1. the PS sends ``STEP t`` and :math:`\theta_t` to every live worker;
2. it consumes the workers' messages in the order they arrive: a message whose header says
   ``t`` is kept until it has the first ``n − s`` of them (or, with a ``deadline``, all that
   arrive within ``deadline`` seconds; or, with forced ``survivors``, exactly those workers);
   a message whose header says ``t' < t`` was computed from old parameters: it is drained,
   counted and dropped, never used;
3. it decodes the kept messages with :meth:`agc.Code.decode` and the scheme's decoder for that
   survivor set (:func:`agc.schemes.decoder_matrix`, by default :func:`agc.optimal_decoder`),
   writes the estimate as the gradient and steps the optimiser, exactly as the simulator's
   :func:`agc.training.coded_step` does.

**Links.** Gloo offers no safe poll: ``Work.is_completed()`` stays false for point-to-point
work until ``wait()`` is called, and a ``wait(timeout)`` that times out closes every connection
of the process. So each worker has two threads on the PS, each blocking on one direction of its
link: a *receiver* that always has a receive posted for the next header and payload and puts
every message on one event queue, and a *sender* that sends what the main thread queues for
that worker. The main thread only ever waits on the event queue, with a timeout.

**Dead workers.** A worker whose process ends closes its connection; the blocked receive then
raises at once and the worker is recorded as dead (a permanent straggler). A worker silent for
``worker_timeout`` seconds while it has work is presumed dead ("silent") and no longer waited
for; if it speaks again it is live again. Hence every wait ends: an iteration needs at most
``min(n − s, live)`` messages.

**Shutdown.** After the last iteration the PS sends ``STOP`` to every worker not known dead,
keeps draining messages still in flight (a worker that does not preempt finishes its sleep
first), and waits, at most ``worker_timeout`` seconds, for every worker's ``BYE``; a worker
whose connection closes without one died (it is recorded as dead).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector

from agc._checks import check_int
from agc._io import json_ready
from agc.code import block_length
from agc.data import load_dataset, split_chunks
from agc.engine import optimal_error
from agc.runtime.delays import Delay
from agc.runtime.protocol import (
    BYE,
    FLOAT_BYTES,
    HEADER_BYTES,
    STEP,
    STOP,
    TAG_CONTROL,
    TAG_HEADER,
    TAG_PARAMS,
    TAG_PAYLOAD,
    TAG_READY,
    worker_rank,
)
from agc.schemes import Scheme, decoder_matrix, exact_fixed_decoder
from agc.seeds import streams
from agc.training import ChunkedData, accuracy, make_optimizer, mlp, relative_error, write_gradient


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; built and validated by :func:`agc.runtime.launch.make_config`.

    Attributes
    ----------
    scheme : agc.schemes.Scheme
        The code and its decoder.
    dataset : str
        Name for :func:`agc.data.load_dataset`; ``dataset_options`` are passed to it.
    dataset_options : dict
    iters, s, deadline, survivors, seed, lr, optimizer, hidden
        See :func:`agc.runtime.run`.
    check, delay, exits, hangs, preempt, worker_timeout, keep_estimates
        See :func:`agc.runtime.run`.
    """

    scheme: Scheme
    dataset: str = "digits"
    dataset_options: dict = field(default_factory=dict)
    iters: int = 50
    s: int = 0
    deadline: float | None = None
    survivors: tuple | None = None
    seed: int = 0
    lr: float | None = None
    optimizer: str = "sgd"
    hidden: int = 128
    check: bool = False
    delay: Delay = field(default_factory=Delay)
    exits: dict = field(default_factory=dict)
    hangs: dict = field(default_factory=dict)
    preempt: bool = True
    worker_timeout: float = 30.0
    keep_estimates: bool = False

    @property
    def code(self):
        """The scheme's :class:`agc.Code`."""
        return self.scheme.code

    def describe(self):
        """A JSON-ready summary."""
        code = self.code
        return {
            "scheme": self.scheme.name, "decoder": self.scheme.decoder, "code": repr(code), "n": code.n,
            "k": code.k, "ell": code.ell, "code_params": json_ready(code.params),
            "dataset": self.dataset, "dataset_options": dict(self.dataset_options), "iters": self.iters,
            "s": self.s, "deadline": self.deadline,
            "survivors": list(self.survivors) if self.survivors is not None else None, "seed": self.seed,
            "lr": self.lr, "optimizer": self.optimizer, "hidden": self.hidden, "check": self.check,
            "delay": {"model": self.delay.model, **self.delay.params},
            "exits": {str(w): t for w, t in self.exits.items()}, "hangs": {str(w): t for w, t in self.hangs.items()},
            "preempt": self.preempt, "worker_timeout": self.worker_timeout,
        }


class _Link:
    """The PS's two threads for one worker: a sender (from an outbox) and a receiver (to the events)."""

    def __init__(self, worker, message_floats, events):
        self.worker = worker
        self.rank = worker_rank(worker)
        self.message_floats = message_floats
        self.events = events
        self.outbox = queue.Queue()
        self.sender = threading.Thread(target=self._send_loop, name=f"agc-ps-send{worker}", daemon=True)
        self.receiver = threading.Thread(target=self._receive_loop, name=f"agc-ps-recv{worker}", daemon=True)

    def start(self):
        self.sender.start()
        self.receiver.start()

    def _send_loop(self):
        try:
            while (item := self.outbox.get()) is not None:
                command, iteration, params = item
                dist.send(torch.tensor([command, iteration], dtype=torch.int64), self.rank, tag=TAG_CONTROL)
                if command == STOP:
                    return
                dist.send(params, self.rank, tag=TAG_PARAMS)
        except RuntimeError as error:
            self.events.put(("lost", self.worker, None, str(error).splitlines()[0], time.perf_counter()))

    def _receive_loop(self):
        try:
            while True:
                header = torch.empty(1, dtype=torch.int64)
                payload = torch.empty(self.message_floats, dtype=torch.float32)
                header_work = dist.irecv(header, self.rank, tag=TAG_HEADER)
                payload_work = dist.irecv(payload, self.rank, tag=TAG_PAYLOAD)
                header_work.wait()
                if int(header[0]) == BYE:
                    self.events.put(("bye", self.worker, None, None, time.perf_counter()))
                payload_work.wait()  # after BYE no payload comes: this raises when the worker closes
                self.events.put(("message", self.worker, int(header[0]), payload, time.perf_counter()))
        except RuntimeError as error:  # the worker's process ended (or gloo timed out)
            self.events.put(("closed", self.worker, None, str(error).splitlines()[0], time.perf_counter()))


class ParameterServer:
    """Rank 0 of a run: :meth:`serve` does the setup, the iterations and the shutdown.

    Parameters
    ----------
    config : RunConfig
    world_size : int
        Must be ``n + 1``.
    """

    def __init__(self, config, world_size):
        self.config = config
        self.code = code = config.code
        self.world_size = check_int("world_size", world_size, low=2)
        data = load_dataset(config.dataset, **config.dataset_options)
        self.X, self.y = data.X_train.to(torch.float32), data.y_train
        self.X_test, self.y_test = data.X_test.to(torch.float32), data.y_test
        self.features, self.classes = data.features, data.classes
        seeds = streams(config.seed)  # the same streams as agc.training.train: model, chunk split, delays
        self.model = mlp(self.features, hidden=config.hidden, classes=self.classes, seed=seeds.model_seed)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr, dataset=data.name)
        if code.k > self.X.shape[0]:
            raise ValueError(f"code {code.name!r} has k={code.k} chunks but the training set only "
                             f"{self.X.shape[0]} samples")
        self.chunks = split_chunks(self.X.shape[0], code.k, seed=seeds.split())
        self.delay = Delay(config.delay.model, config.delay.params, seeds.delay_seed)
        self.d = sum(p.numel() for p in self.model.parameters())
        self.m = block_length(self.d, code.ell)
        self.p = config.s / code.n  # what the unbiased decoder rescales by
        self.D_full = exact_fixed_decoder(config.scheme) if config.scheme.decoder != "optimal" else None
        self.full_batch = ChunkedData(self.X, self.y, self.chunks) if config.check else None
        self.events = queue.Queue()
        self.links = [_Link(j, self.m, self.events) for j in range(code.n)]
        self.status = ["live"] * code.n
        self.waiting_since = [None] * code.n
        self.dead = {}
        self.silent = {}
        self.started = None  # when the current iteration sent its parameters
        self.iterations = []
        self.estimates = []
        self.losses = []

    # ----------------------------------------------------------------------------- setup
    def setups(self):
        """The setup object of every worker: its code row, its chunks' samples only, its delays."""
        code, config = self.code, self.config
        for j in range(code.n):
            held = np.flatnonzero(code.assignment[j])
            index = np.concatenate([self.chunks[i] for i in held])
            sizes = np.cumsum([0] + [self.chunks[i].size for i in held])
            yield {
                "worker": j, "code": code, "X": self.X[torch.as_tensor(index)].clone(),
                "y": self.y[torch.as_tensor(index)].clone(),
                "chunks": [np.arange(sizes[a], sizes[a + 1]) for a in range(held.size)],
                "samples": int(self.X.shape[0]), "features": self.features, "hidden": config.hidden,
                "classes": self.classes, "delay": self.delay, "exit_at": config.exits.get(j),
                "hang_at": config.hangs.get(j),
                "preempt": config.preempt,
            }

    def _send_setups(self):
        if self.world_size != self.code.n + 1:
            reason = (f"world size {self.world_size} does not match the code: n={self.code.n} workers need "
                      f"world size n + 1 = {self.code.n + 1}")
            for rank in range(1, self.world_size):
                dist.send_object_list([{"abort": reason}], dst=rank)
            raise ValueError(reason)
        for setup in self.setups():
            dist.send_object_list([setup], dst=worker_rank(setup["worker"]))
        warmup = []
        for j in range(self.code.n):
            seconds = torch.zeros(1, dtype=torch.float64)
            dist.recv(seconds, worker_rank(j), tag=TAG_READY)
            warmup.append(float(seconds[0]))
        return warmup

    # ----------------------------------------------------------------------------- events
    def _live(self):
        return [j for j in range(self.code.n) if self.status[j] == "live"]

    def _send_step(self, worker, iteration, theta):
        self.links[worker].outbox.put((STEP, iteration, theta))
        if self.waiting_since[worker] is None:
            self.waiting_since[worker] = time.perf_counter()

    def _handle(self, event, t, received, stats, theta):
        kind, worker, tag, payload, when = event
        if kind in ("closed", "lost"):
            if self.status[worker] != "dead":
                self.status[worker] = "dead"
                self.dead[worker] = {"iteration": t, "reason": payload}
                self.links[worker].outbox.put(None)  # ends its sender thread
            return
        self.waiting_since[worker] = None
        if self.status[worker] == "silent":  # presumed dead, but it spoke: live again
            self.status[worker] = "live"
            if theta is not None:
                self._send_step(worker, t, theta)
        stats["messages"] += 1
        stats["bytes_received"] += payload.numel() * payload.element_size()
        stats["header_bytes"] += HEADER_BYTES
        stats["message_floats"].add(payload.numel())
        if tag > t:
            raise RuntimeError(f"protocol violation: worker {worker} sent iteration {tag} during iteration {t}")
        if tag < t:
            stats["stale"].append([worker, tag])
        elif received is None or worker in received or not self._wanted(worker, when):
            stats["unused"].append(worker)
        else:
            received[worker] = (payload, when, tag)

    def _wanted(self, worker, when):
        forced, deadline = self.config.survivors, self.config.deadline
        if deadline is not None and when - self.started > deadline:
            return False
        return forced is None or worker in forced

    def _collected(self, received, start):
        config = self.config
        pending = [j for j in self._live() if j not in received]
        if config.survivors is not None:
            return not [j for j in pending if j in config.survivors]
        if config.deadline is not None:
            return not pending or time.perf_counter() - start >= config.deadline
        return len(received) >= min(self.code.n - config.s, len(received) + len(pending))

    def _timeout(self, start):
        now = time.perf_counter()
        limits = [since + self.config.worker_timeout - now for j, since in enumerate(self.waiting_since)
                  if since is not None and self.status[j] == "live"]
        if self.config.deadline is not None:
            limits.append(start + self.config.deadline - now)
        return max(min(limits, default=self.config.worker_timeout), 1e-4)

    def _presume_dead(self, t):
        now = time.perf_counter()
        for j, since in enumerate(self.waiting_since):
            if since is not None and self.status[j] == "live" and now - since >= self.config.worker_timeout:
                self.status[j] = "silent"
                self.silent.setdefault(j, t)

    @staticmethod
    def _new_stats():
        return {"messages": 0, "bytes_received": 0, "header_bytes": 0, "message_floats": set(), "stale": [],
                "unused": []}

    # ----------------------------------------------------------------------------- iterations
    def _loss(self):
        with torch.no_grad():
            return float(F.cross_entropy(self.model(self.X), self.y))

    def iteration(self, t):
        r"""Run iteration ``t``: send :math:`\\theta_t`, collect, decode, step; return its record."""
        code, config = self.code, self.config
        self.losses.append(self._loss())
        self.started = start = time.perf_counter()
        theta = parameters_to_vector(self.model.parameters()).detach().clone()
        live = self._live()
        for j in live:
            self._send_step(j, t, theta)
        received, stats = {}, self._new_stats()
        while not self._collected(received, start):
            try:
                event = self.events.get(timeout=self._timeout(start))
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(event, t, received, stats, theta)
            self._presume_dead(t)
        collected = time.perf_counter()
        used = sorted(received)
        mask = np.zeros(code.n, dtype=bool)
        mask[used] = True
        messages = (torch.stack([received[j][0] for j in used]) if used
                    else torch.zeros(0, self.m, dtype=torch.float32))
        decoder = decoder_matrix(config.scheme, mask, self.p, self.D_full)
        estimate = code.decode(messages, mask, decoder, d=self.d)
        decoded = time.perf_counter()
        record = {"iteration": t}
        if config.check:
            G, _ = self.full_batch.gradients(self.model)
            simulated = code.decode(code.encode(G), mask, decoder, d=self.d)
            record.update(error=relative_error(estimate, G.sum(dim=0)),
                          err_star=optimal_error(code, mask, normalized=True),
                          simulator_max_abs_diff=float((estimate - simulated).abs().max()),
                          gradient_norm=float(G.sum(dim=0).norm()))
        if config.keep_estimates:
            self.estimates.append(estimate.tolist())
        step_start = time.perf_counter()
        write_gradient(self.model, estimate)  # overwrites every .grad: no zero_grad needed
        self.optimizer.step()
        end = time.perf_counter()
        order = sorted(received, key=lambda j: received[j][1])
        record.update(
            seconds=(decoded - start) + (end - step_start), collect_seconds=collected - start,
            used=used, arrival_order=order, arrival_seconds=[received[j][1] - start for j in order],
            tags=[received[j][2] for j in used], used_bytes=sum(int(received[j][0].numel()) * FLOAT_BYTES for j in used),
            bytes_received=stats["bytes_received"], header_bytes=stats["header_bytes"],
            messages=stats["messages"], message_floats=sorted(stats["message_floats"]), stale=stats["stale"],
            unused=stats["unused"], sent_to=live, downlink_bytes=len(live) * (self.d * FLOAT_BYTES + 2 * HEADER_BYTES),
            dead=sorted(j for j in range(code.n) if self.status[j] != "live"), loss=self.losses[-1],
        )
        self.iterations.append(record)
        return record

    # ----------------------------------------------------------------------------- shutdown
    def shutdown(self):
        """Send ``STOP`` to every worker not known dead, drain late messages, and wait for every ``BYE``."""
        start = time.perf_counter()
        stats = self._new_stats()
        t = len(self.iterations)
        for j in range(self.code.n):
            if self.status[j] != "dead":
                self.links[j].outbox.put((STOP, t, None))
        limit = start + self.config.worker_timeout
        while any(status not in ("dead", "stopped") for status in self.status) and time.perf_counter() < limit:
            try:
                event = self.events.get(timeout=max(limit - time.perf_counter(), 1e-4))
            except queue.Empty:
                break
            if event[0] == "bye":
                self.status[event[1]] = "stopped"
            elif self.status[event[1]] != "stopped":  # a late message, or a death before its BYE
                self._handle(event, t, None, stats, None)
        for link in self.links:
            link.sender.join(timeout=max(limit - time.perf_counter(), 0.0))
        unresponsive = [j for j, status in enumerate(self.status) if status not in ("dead", "stopped")]
        return {"seconds": time.perf_counter() - start, "stale": stats["stale"], "messages": stats["messages"],
                "bytes_received": stats["bytes_received"], "unresponsive": unresponsive}

    def serve(self):
        """Setup, ``iters`` iterations, shutdown; returns the results as a JSON-ready dict.

        Parameters
        ----------
        config : RunConfig
        world_size : int
            ``n + 1``.

        Returns
        -------
        dict
            The results (see :func:`agc.runtime.run`).
        """
        begin = time.perf_counter()
        warmup = self._send_setups()
        setup_seconds = time.perf_counter() - begin
        for link in self.links:
            link.start()
        try:
            for t in range(self.config.iters):
                self.iteration(t)
        finally:
            shutdown = self.shutdown()
        self.losses.append(self._loss())
        seconds = [r["seconds"] for r in self.iterations]
        results = {
            "config": self.config.describe(), "d": self.d, "message_floats": self.m,
            "message_bytes": self.m * FLOAT_BYTES, "iterations": self.iterations, "loss": self.losses,
            "seconds": seconds, "elapsed": np.cumsum([0.0, *seconds]).tolist(),
            "test_accuracy": accuracy(self.model, self.X_test, self.y_test),
            "dead": {str(j): info for j, info in sorted(self.dead.items())},
            "silent": {str(j): t for j, t in sorted(self.silent.items())},
            "status": list(self.status), "setup_seconds": setup_seconds, "warmup_seconds": warmup, "shutdown": shutdown,
            "total_seconds": time.perf_counter() - begin,
        }
        if self.config.keep_estimates:
            results["estimates"] = self.estimates
        return results


def serve(config, world_size):
    """Run the parameter server of ``config`` on this rank (0) and return its results.

    Parameters
    ----------
    config : RunConfig
    world_size : int
        ``n + 1``.

    Returns
    -------
    dict
        The results (see :func:`agc.runtime.run`).
    """
    return ParameterServer(config, world_size).serve()

