r"""Gloo over a shaped link: is the time of a message ``bytes·8/rate`` plus a fixed overhead.

A parameter server (rank 0, in the PS's namespace) and 4 workers (ranks 1-4, in the workers'
namespace) of :func:`agc.runtime.netns.shaped_network`, 100 mbit each way, gloo with
``GLOO_SOCKET_IFNAME`` set to each namespace's veth end and ``MASTER_ADDR`` to the PS's address.
Messages are float32 tensors of ``d = 101 770`` entries (the 784-128-10 MLP, 407 kB) and of
``⌈d/4⌉ = 25 443`` entries (``ℓ = 4``, 102 kB). Scenarios, timed at the PS:

* ``ping``: the PS sends a 1-entry int64 ``go``, the worker answers 1 float: the per-message
  overhead (two tiny messages, one each way), measured, not assumed;
* ``isolated``: ``go``, then one worker sends one message; 20 ms pauses between repetitions, as
  between iterations, so the token bucket is full at each start;
* ``stream``: ``go``, then one worker sends 10 messages back to back (time per message);
* ``4 workers``: ``go`` to each, then all 4 send one message at once into the PS's one
  incoming link (an iteration's upload);
* ``broadcast``: the PS sends one message to each of the 4 workers (the downlink), each answers
  1 float.

Two predictions of a timed unit that moves ``b`` payload bytes (all its messages):

* bare: overhead (the ``ping`` median) plus ``b·8/rate``;
* frames and bucket: overhead plus ``(b·8/r_payload − burst·8/rate)``, where
  ``r_payload = tcp_payload_rate(rate)`` (TCP/IP/Ethernet headers: 0.956 of the rate) and the
  token bucket, full after the pause, lets its first ``burst`` bytes pass at once.

Needs root and iproute2 (Linux).

Run: ``.venv/bin/python benchmarks/shaped_link.py``
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import statistics
import time
from datetime import timedelta

from agc.runtime.netns import available, enter_namespace, shaped_network, tcp_payload_rate

RATE = "100mbit"
D = 101_770
FLOATS = (D, -(-D // 4))
WORKERS = 4
REPEATS = 20
STREAM = 10
PAUSE = 0.02
PORT = 29500  # free: the namespaces are new and private to this run


def scenarios():
    """``(name, floats, workers, messages per worker, direction)`` for every row of the table."""
    rows = [("ping", 1, 1, 1, "up")]
    for floats in FLOATS:
        rows += [("isolated", floats, 1, 1, "up"), ("stream", floats, 1, STREAM, "up"),
                 (f"{WORKERS} workers", floats, WORKERS, 1, "up"), ("broadcast", floats, WORKERS, 1, "down")]
    return rows


def _rank(rank, world_size, net, results):
    side = "ps" if rank == 0 else "workers"
    enter_namespace(net.namespace(side))  # before any socket: gloo's sockets are then inside
    os.environ.update(net.gloo_environment(side), MASTER_PORT=str(PORT))
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size, timeout=timedelta(seconds=120))
    go, tiny = torch.ones(1, dtype=torch.int64), torch.zeros(1)
    try:
        for name, floats, workers, messages, direction in scenarios():
            payload = torch.ones(floats)
            seconds = []
            for repeat in range(1 + REPEATS):  # the first repetition warms the connection up
                dist.barrier()
                time.sleep(PAUSE)
                if rank == 0:
                    start = time.perf_counter()
                    if direction == "up":
                        for worker in range(1, workers + 1):
                            dist.isend(go, worker).wait()
                        pending = [dist.irecv(torch.empty(floats), worker)
                                   for worker in range(1, workers + 1) for _ in range(messages)]
                    else:
                        sends = [dist.isend(payload, worker) for worker in range(1, workers + 1)]
                        pending = sends + [dist.irecv(torch.empty(1), worker) for worker in range(1, workers + 1)]
                    for work in pending:
                        work.wait()
                    if repeat:
                        seconds.append(time.perf_counter() - start)
                elif rank <= workers:
                    if direction == "up":
                        dist.recv(torch.empty(1, dtype=torch.int64), 0)
                        for _ in range(messages):
                            dist.send(payload, 0)
                    else:
                        dist.recv(torch.empty(floats), 0)
                        dist.send(tiny, 0)
            if rank == 0:
                results.put((name, floats, workers, messages, direction, seconds))
    finally:
        dist.destroy_process_group()


def _collect(results, processes, count):
    """``count`` rows from rank 0; stop at once if a rank fails."""
    rows = []
    while len(rows) < count:
        try:
            rows.append(results.get(timeout=1.0))
        except queue.Empty:
            if any(process.exitcode not in (None, 0) for process in processes):
                raise SystemExit(f"shaped_link.py: a rank failed (exit codes {[p.exitcode for p in processes]})") from None
    return rows


def main():
    ok, reason = available()
    if not ok:
        raise SystemExit(f"shaped_link.py: {reason}")
    context = mp.get_context("spawn")
    results = context.Queue()
    with shaped_network(RATE) as net:
        world_size = 1 + WORKERS
        processes = [context.Process(target=_rank, args=(rank, world_size, net, results), daemon=True)
                     for rank in range(world_size)]
        try:
            for process in processes:
                process.start()
            rows = _collect(results, processes, len(scenarios()))
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
                    process.join()
        drops = {direction: counters["drops"] for direction, counters in net.stats().items()}
    overhead = statistics.median(rows[0][5])
    quartiles = statistics.quantiles(rows[0][5], n=4)
    print(f"gloo over veth + tbf, {RATE} each way (burst {net.uplink_burst} B, limit {net.limit} B), "
          f"{WORKERS} workers, median of {REPEATS}; overhead (ping, median) {1e3 * overhead:.2f} ms "
          f"(IQR {1e3 * quartiles[0]:.2f}-{1e3 * quartiles[2]:.2f}); tbf drops {drops}")
    print(f"{'scenario':10s} {'floats':>7s} {'bytes':>8s} {'median ms':>10s} {'IQR ms':>13s} {'bare ms':>8s} "
          f"{'ratio':>6s} {'frames ms':>10s} {'ratio':>6s}")
    for name, floats, workers, messages, direction, seconds in rows[1:]:
        rate, burst = (net.uplink, net.uplink_burst) if direction == "up" else (net.downlink, net.downlink_burst)
        nbytes = 4 * floats * workers * messages
        bare = overhead + nbytes * 8 / rate
        frames = overhead + max(nbytes * 8 / tcp_payload_rate(rate) - burst * 8 / rate, 0.0)
        median = statistics.median(seconds)
        low, _, high = statistics.quantiles(seconds, n=4)
        per = 1e3 / messages  # ms; a stream's row is per message (bytes too)
        print(f"{name:10s} {floats:7d} {nbytes // messages:8d} {median * per:10.2f} {low * per:6.2f}-{high * per:<6.2f} "
              f"{bare * per:8.2f} {median / bare:6.3f} {frames * per:10.2f} {median / frames:6.3f}")

if __name__ == "__main__":
    main()
