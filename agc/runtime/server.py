r"""The parameter server (rank 0): collects coded messages, decodes, steps, and never hangs.

**Start-up.** The PS sends each worker its setup and waits for its ``READY``. A worker whose
process ends before that is dead; one silent for ``worker_timeout`` after its setup was
delivered (or whose setup could not be delivered within ``worker_timeout`` plus the time the
setups take at the shaped link's rate) is presumed dead ("silent"). The run starts with the
workers that are ready; it fails at once, saying so, if none is. A silent worker that reports
ready later joins in the next iteration.

One iteration ``t`` (book: *The runtime*):

1. the PS sends ``STEP t`` and :math:`\theta_t` to every live worker;
2. it consumes the workers' messages in the order they arrive: a message whose header says
   ``t`` is kept until it has the first ``n − s`` of them (or, with a ``deadline``, all that
   arrive within ``deadline`` seconds; or, with forced ``survivors``, exactly those workers);
   a message whose header says ``t' < t`` was computed from old parameters: it is drained,
   counted and dropped, never used;
3. it decodes the kept float32 messages in float64 with :meth:`agc.Code.decode` and the
   scheme's decoder for that survivor set (:func:`agc.schemes.decoder_matrix`, by default
   :func:`agc.optimal_decoder`), writes the estimate as the gradient and steps the optimiser,
   exactly as the simulator's :func:`agc.training.coded_step` does.

**Times.** ``seconds`` runs from the first send of :math:`\theta_t` to the end of the step. With
the workers on the PS's clock (:func:`agc.runtime.protocol.clock_id`), the iteration splits into
the *broadcast* (until the last used worker has received :math:`\theta_t`, from its header), the
*gather* (from then until the last used message has arrived) and the decoding and step.

**Links.** Gloo offers no safe poll: ``Work.is_completed()`` stays false for point-to-point
work until ``wait()`` is called, and a ``wait(timeout)`` that times out closes every connection
of the process. So each worker has two threads on the PS, each blocking on one direction of its
link: a *receiver* that always has a receive posted for the next message and puts every message
on one event queue, and a *sender* that sends what the main thread queues for that worker. The
main thread only ever waits on the event queue, with a timeout.

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

import pickle
import queue
import threading

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector

from agc._checks import check_int
from agc.code import block_length
from agc.data import load_dataset, split_chunks
from agc.engine import optimal_error
from agc.runtime.protocol import (
    BYE,
    CONTROL_BYTES,
    FLOAT_BYTES,
    HEADER_BYTES,
    HEADER_ENTRIES,
    STEP,
    STOP,
    TAG_CONTROL,
    TAG_HEADER,
    TAG_PARAMS,
    TAG_PAYLOAD,
    TAG_READY,
    TAG_SETUP,
    clock_id,
    now,
    worker_rank,
)
from agc.runtime.results import RunResult
from agc.schemes import decoder_matrix, exact_fixed_decoder
from agc.seeds import streams
from agc.training import ChunkedData, accuracy, make_optimizer, mlp, relative_error, write_gradient

__all__ = ["ParameterServer", "send_setup", "serve"]


def send_setup(setup, rank):
    """Send a setup object, pickled (or already pickled), to ``rank`` on :data:`~agc.runtime.protocol.TAG_SETUP`.

    Parameters
    ----------
    setup : dict or bytes
    rank : int

    Returns
    -------
    int
        Bytes sent.
    """
    blob = setup if isinstance(setup, bytes) else pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL)
    data = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
    dist.send(torch.tensor([data.numel()], dtype=torch.int64), rank, tag=TAG_SETUP)
    dist.send(data, rank, tag=TAG_SETUP)
    return data.numel()


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
                command, iteration, payload = item
                if command == "setup":
                    send_setup(payload, self.rank)
                    self.events.put(("delivered", self.worker, None, None, now()))
                    continue
                dist.send(torch.tensor([command, iteration], dtype=torch.int64), self.rank, tag=TAG_CONTROL)
                if command == STOP:
                    return
                dist.send(payload, self.rank, tag=TAG_PARAMS)
                self.events.put(("sent", self.worker, iteration, None, now()))
        except RuntimeError as error:
            self.events.put(("lost", self.worker, None, str(error).splitlines()[0], now()))

    def _receive_loop(self):
        try:
            ready = torch.zeros(2, dtype=torch.float64)
            dist.recv(ready, self.rank, tag=TAG_READY)
            self.events.put(("ready", self.worker, None, (float(ready[0]), int(ready[1])), now()))
            while True:
                header = torch.empty(HEADER_ENTRIES, dtype=torch.int64)
                payload = torch.empty(self.message_floats, dtype=torch.float32)
                header_work = dist.irecv(header, self.rank, tag=TAG_HEADER)
                payload_work = dist.irecv(payload, self.rank, tag=TAG_PAYLOAD)
                header_work.wait()
                if int(header[0]) == BYE:
                    self.events.put(("bye", self.worker, None, None, now()))
                payload_work.wait()  # after BYE no payload comes: this raises when the worker closes
                self.events.put(("message", self.worker, tuple(int(x) for x in header), payload, now()))
        except RuntimeError as error:  # the worker's process ended (or gloo timed out)
            self.events.put(("closed", self.worker, None, str(error).splitlines()[0], now()))


class ParameterServer:
    """Rank 0 of a run: :meth:`serve` does the start-up, the iterations and the shutdown.

    Parameters
    ----------
    config : agc.runtime.RunConfig
    world_size : int
        Must be ``n + 1``.
    mark : callable, optional
        Called with ``"iterations"`` before the first iteration and ``"end"`` after the
        shutdown (every message drained, every ``BYE`` in), and returning a dict or ``None``: the
        launcher reads the shaped link's counters there (:attr:`marks` keeps what it returns).
    """

    def __init__(self, config, world_size, mark=None):
        self.config = config
        self.code = code = config.code
        self.world_size = check_int("world_size", world_size, low=2)
        self.mark = mark or (lambda label: None)
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
        self.d = sum(p.numel() for p in self.model.parameters())
        self.m = block_length(self.d, code.ell)
        self.p = config.s / code.n  # what the unbiased decoder rescales by
        self.D_full = exact_fixed_decoder(config.scheme) if config.scheme.decoder != "optimal" else None
        self.full_batch = ChunkedData(self.X, self.y, self.chunks) if config.check else None
        self.events = queue.Queue()
        self.links = [_Link(j, self.m, self.events) for j in range(code.n)]
        self.status = ["starting"] * code.n
        self.waiting_since = [None] * code.n
        self.clocks = [None] * code.n
        self.warmup = [None] * code.n
        self.dead = {}
        self.silent = {}
        self.marks = {}
        self.answers = {}  # iteration -> every message computed from its θ: (worker, received, sent, arrival)
        self.starts = []
        self.started = None  # when the current iteration sent its parameters
        self.iterations = []
        self.estimates = []
        self.losses = []

    # ----------------------------------------------------------------------------- setup
    def setups(self):
        """The setup object of every worker: its code row, its chunks' samples only, its delays.

        Yields
        ------
        dict
            One per worker, in worker order.
        """
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
                "classes": self.classes, "delay": config.delay, "exit_at": config.exits.get(j),
                "hang_at": config.hangs.get(j), "preempt": config.preempt,
            }

    def _abort_if_misfit(self):
        if self.world_size == self.code.n + 1:
            return
        reason = (f"world size {self.world_size} does not match the code: n={self.code.n} workers need "
                  f"world size n + 1 = {self.code.n + 1}")
        for rank in range(1, self.world_size):
            send_setup({"abort": reason}, rank)
        raise ValueError(reason)

    def start_up(self):
        """Send the setups and wait for every worker's ``READY`` (module notes); return the seconds taken.

        Returns
        -------
        float

        Raises
        ------
        RuntimeError
            If no worker reports ready.
        """
        self._abort_if_misfit()
        begin = now()
        for link in self.links:
            link.start()
        total = 0
        for setup in self.setups():
            blob = pickle.dumps(setup, protocol=pickle.HIGHEST_PROTOCOL)
            total += len(blob)
            self.links[setup["worker"]].outbox.put(("setup", None, blob))
        timeout = self.config.worker_timeout
        # the setups share the PS's outgoing link: they may take their bytes at its rate on top
        delivery = timeout + (8 * total / self.config.downlink if self.config.downlink else 0.0)
        queued = now()
        while "starting" in self.status:
            limits = [(since + timeout if since is not None else queued + delivery) - now()
                      for j, since in enumerate(self.waiting_since) if self.status[j] == "starting"]
            try:
                event = self.events.get(timeout=max(min(limits), 1e-4))
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(event, -1, None, self._new_stats(), None)
            moment = now()
            for j, since in enumerate(self.waiting_since):
                late = moment - since >= timeout if since is not None else moment - queued >= delivery
                if self.status[j] == "starting" and late:
                    self.status[j] = "silent"
                    self.silent[j] = -1
                    self.waiting_since[j] = None
        if not self._live():
            raise RuntimeError(f"no worker reported ready within worker_timeout={timeout:g} s: dead "
                               f"{sorted(self.dead)}, presumed dead {sorted(self.silent)}; nothing to train with")
        return now() - begin

    # ----------------------------------------------------------------------------- events
    def _live(self):
        return [j for j in range(self.code.n) if self.status[j] == "live"]

    def _send_step(self, worker, iteration, theta):
        self.links[worker].outbox.put((STEP, iteration, theta))
        if self.waiting_since[worker] is None:
            self.waiting_since[worker] = now()

    def _handle(self, event, t, received, stats, theta):
        kind, worker, header, payload, when = event
        if kind in ("closed", "lost"):
            if self.status[worker] != "dead":
                self.status[worker] = "dead"
                self.dead[worker] = {"iteration": t, "phase": "start-up" if t < 0 else "iterations",
                                     "reason": payload}
                self.links[worker].outbox.put(None)  # ends its sender thread
            return
        if kind == "delivered":  # its setup is through: its start-up clock starts
            self.waiting_since[worker] = when
            return
        if kind == "sent":  # the PS's send of the parameters of iteration `header` returned
            stats["sent"][worker] = when
            return
        if kind == "ready":
            self.warmup[worker], self.clocks[worker] = payload
            self.waiting_since[worker] = None
            self.status[worker] = "live"
            if theta is not None:  # a worker presumed dead at start-up that reports ready later
                self._send_step(worker, t, theta)
            return
        self.waiting_since[worker] = None
        if self.status[worker] == "silent":  # presumed dead, but it spoke: live again
            self.status[worker] = "live"
            if theta is not None:
                self._send_step(worker, t, theta)
        tag = header[0]
        self.answers.setdefault(tag, []).append((worker, header[1] / 1e9, header[2] / 1e9, when))
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
            received[worker] = (payload, when, header)

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
            return not pending or now() - start >= config.deadline
        return len(received) >= min(self.code.n - config.s, len(received) + len(pending))

    def _timeout(self, start):
        moment = now()
        limits = [since + self.config.worker_timeout - moment for j, since in enumerate(self.waiting_since)
                  if since is not None and self.status[j] == "live"]
        if self.config.deadline is not None:
            limits.append(start + self.config.deadline - moment)
        return max(min(limits, default=self.config.worker_timeout), 1e-4)

    def _presume_dead(self, t):
        moment = now()
        for j, since in enumerate(self.waiting_since):
            if since is not None and self.status[j] == "live" and moment - since >= self.config.worker_timeout:
                self.status[j] = "silent"
                self.silent.setdefault(j, t)

    @staticmethod
    def _new_stats():
        return {"messages": 0, "bytes_received": 0, "header_bytes": 0, "message_floats": set(), "stale": [],
                "unused": [], "sent": {}}

    def _same_clock(self, workers):
        mine = clock_id()
        return mine != 0 and all(self.clocks[j] == mine for j in workers)

    # ----------------------------------------------------------------------------- iterations
    def _loss(self):
        with torch.no_grad():
            return float(F.cross_entropy(self.model(self.X), self.y))

    def iteration(self, t):
        r"""Run iteration ``t``: send :math:`\theta_t`, collect, decode, step; return its record.

        Parameters
        ----------
        t : int

        Returns
        -------
        dict
            The iteration's record (:attr:`agc.runtime.RunResult.iterations`).
        """
        code, config = self.code, self.config
        self.losses.append(self._loss())
        self.started = start = now()
        self.starts.append(start)
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
        collected = now()
        used = sorted(received)
        mask = np.zeros(code.n, dtype=bool)
        mask[used] = True
        # float32 on the wire, float64 in the decoder
        messages = (torch.stack([received[j][0] for j in used]).double() if used
                    else torch.zeros(0, self.m, dtype=torch.float64))
        decoder = decoder_matrix(config.scheme, mask, self.p, self.D_full)
        estimate = code.decode(messages, mask, decoder, d=self.d).to(torch.float32)
        decoded = now()
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
        step_start = now()
        write_gradient(self.model, estimate)  # overwrites every .grad: no zero_grad needed
        self.optimizer.step()
        end = now()
        order = sorted(received, key=lambda j: received[j][1])
        clocked = bool(used) and self._same_clock(used)
        receipts = [received[j][2][1] / 1e9 - start for j in order] if clocked else None
        broadcast = max(receipts) if clocked else None
        record.update(
            seconds=(decoded - start) + (end - step_start), collect_seconds=collected - start,
            broadcast_seconds=broadcast,
            gather_seconds=(max(received[j][1] for j in used) - start - broadcast) if clocked else None,
            used=used, arrival_order=order, arrival_seconds=[received[j][1] - start for j in order],
            received_seconds=receipts,
            sent_seconds=[received[j][2][2] / 1e9 - start for j in order] if clocked else None,
            tags=[received[j][2][0] for j in used],
            params_sent_seconds={str(j): when - start for j, when in sorted(stats["sent"].items())},
            used_bytes=sum(int(received[j][0].numel()) * FLOAT_BYTES for j in used),
            bytes_received=stats["bytes_received"], header_bytes=stats["header_bytes"],
            messages=stats["messages"], message_floats=sorted(stats["message_floats"]), stale=stats["stale"],
            unused=stats["unused"], sent_to=live,
            downlink_bytes=len(live) * (self.d * FLOAT_BYTES + CONTROL_BYTES),
            dead=sorted(j for j in range(code.n) if self.status[j] != "live"), loss=self.losses[-1],
        )
        self.iterations.append(record)
        return record

    # ----------------------------------------------------------------------------- shutdown
    def shutdown(self):
        """Send ``STOP`` to every worker not known dead, drain late messages, and wait for every ``BYE``.

        Returns
        -------
        dict
            ``seconds``, ``stale``, ``messages``, ``bytes_received`` and ``unresponsive`` workers.
        """
        start = now()
        stats = self._new_stats()
        t = len(self.iterations)
        for j in range(self.code.n):
            if self.status[j] != "dead":
                self.links[j].outbox.put((STOP, t, None))
        limit = start + self.config.worker_timeout
        while any(status not in ("dead", "stopped") for status in self.status) and now() < limit:
            try:
                event = self.events.get(timeout=max(limit - now(), 1e-4))
            except queue.Empty:
                break
            if event[0] == "bye":
                self.status[event[1]] = "stopped"
            elif self.status[event[1]] != "stopped":  # a late message, or a death before its BYE
                self._handle(event, t, None, stats, None)
        for link in self.links:
            link.sender.join(timeout=max(limit - now(), 0.0))
        unresponsive = [j for j, status in enumerate(self.status) if status not in ("dead", "stopped")]
        return {"seconds": now() - start, "stale": stats["stale"], "messages": stats["messages"],
                "bytes_received": stats["bytes_received"], "unresponsive": unresponsive}

    def serve(self):
        """Start-up, ``iters`` iterations, shutdown; returns the results.

        Returns
        -------
        agc.runtime.RunResult
        """
        begin = now()
        setup_seconds = self.start_up()
        try:
            self.marks["iterations"] = self.mark("iterations")
            for t in range(self.config.iters):
                self.iteration(t)
        finally:
            shutdown = self.shutdown()
        self.marks["end"] = self.mark("end")
        self.losses.append(self._loss())
        same_clock = self._same_clock([j for j in range(self.code.n) if self.clocks[j] is not None])
        for t, record in enumerate(self.iterations):
            answers = sorted(self.answers.get(t, []), key=lambda answer: answer[3])
            record["answers"] = ([[j, got - self.starts[t], sent - self.starts[t], when - self.starts[t]]
                                  for j, got, sent, when in answers] if same_clock else None)
            record["start_seconds"] = self.starts[t] - self.starts[0]
        seconds = [r["seconds"] for r in self.iterations]
        return RunResult(
            config=self.config.describe(), d=self.d, message_floats=self.m, message_bytes=self.m * FLOAT_BYTES,
            iterations=self.iterations, loss=self.losses, seconds=seconds,
            elapsed=np.cumsum([0.0, *seconds]).tolist(),
            test_accuracy=accuracy(self.model, self.X_test, self.y_test),
            dead={str(j): info for j, info in sorted(self.dead.items())},
            silent={str(j): t for j, t in sorted(self.silent.items())},
            status=list(self.status), setup_seconds=setup_seconds, warmup_seconds=list(self.warmup),
            shutdown=shutdown, total_seconds=now() - begin,
            same_clock=same_clock,
            estimates=self.estimates if self.config.keep_estimates else None,
        )


def serve(config, world_size, mark=None):
    """Run the parameter server of ``config`` on this rank (0) and return its results.

    Parameters
    ----------
    config : agc.runtime.RunConfig
    world_size : int
        ``n + 1``.
    mark : callable, optional
        See :class:`ParameterServer`.

    Returns
    -------
    agc.runtime.RunResult
    """
    return ParameterServer(config, world_size, mark).serve()
