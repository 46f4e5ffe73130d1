r"""Start a run: every rank on this machine (:func:`run`), or one rank per process under ``torchrun``.

Rank 0 is the parameter server (:mod:`agc.runtime.server`), ranks ``1..n`` are the workers
(:mod:`agc.runtime.worker`); the process group uses the gloo backend, one torch thread per rank.

On one machine, from Python::

    import agc
    from agc.runtime import run
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=8, k=8, load=4)
    result = run(code, iters=30, s=2, delay="multiplicative:chunk=0.01,p=0.2,factor=5")
    result.to_frame()

or from the shell (without ``RANK`` in the environment the module starts all ranks itself)::

    python -m agc.runtime.launch --workers 8 --family cyclic --encoding rdm --ell 2 \
        -P k=8 -P load=4 --stragglers 2 --delay multiplicative:chunk=0.01,p=0.2,factor=5 --out run.json

**The local launcher** (:func:`run`) starts the ``n + 1`` ranks as processes and watches every
one of them until the PS has sent its results through a pipe:

* a rank that ends before the process group has formed stops the run at once with a message
  naming it (gloo's group needs every rank), and so does a group that has not formed within
  ``max(worker_timeout, MIN_JOIN_SECONDS)``; after that, a worker that dies or freezes, in its
  start-up or later, is the PS's business: it becomes a permanent straggler;
* SIGTERM, Ctrl-C and SIGKILL of the launcher end every rank (:mod:`agc.runtime.lifeline`);
* with ``bandwidth`` the PS runs in one network namespace and the workers in another, joined
  by a veth pair shaped with tbf (:func:`agc.runtime.netns.shaped_network`): each rank enters its
  namespace first thing, before gloo opens a socket, ``MASTER_ADDR`` is the PS's address and
  ``GLOO_SOCKET_IFNAME`` each side's interface; the namespaces are removed on every exit, and a
  guardian process removes them if the launcher is killed (:func:`agc.runtime.netns.deleted_if_orphaned`).
  The link's tbf counters are read before the first and after the last iteration
  (:attr:`agc.runtime.RunResult.network`).

**Under torchrun** each process reads ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` from the environment; the world size must be ``n + 1``. On two machines, with
the PS and 2 workers on ``host0`` and 2 workers on ``host1`` (``n = 4``, world size 5)::

    # on host0
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 3 --master-addr host0 --master-port 29500 \
        -m agc.runtime.launch --workers 4 --family cyclic --encoding rdm --ell 2 -P k=4 -P load=3 \
        --stragglers 1 --delay additive:chunk=0.01,p=0.2,extra=0.2 --iters 50 --out run.json
    # on host1: the same command with --node-rank 1 --nproc-per-node 2

(``tests/test_runtime_torchrun.py`` runs the README's copy of this pair of commands on one machine, with
``--master-addr 127.0.0.1``.) Only rank 0 needs ``--out``'s directory and the dataset; the
workers receive their chunks' data from the PS, so they need neither the dataset nor matching
arguments beyond ``--worker-timeout``. Rank 0 validates the options; if they are wrong it tells
every worker to stop and exits with status 2. Set ``GLOO_SOCKET_IFNAME`` to the network
interface the machines share. A worker that exits on schedule (``--exits``) exits with status 0,
since ``torchrun`` stops the whole job when any process fails.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import fields
from datetime import timedelta

from agc._io import write_json
from agc.runtime.config import RunConfig
from agc.runtime.lifeline import Terminated, guard_rank, signals_deferred, sigterm_raises
from agc.runtime.netns import NetworkUnavailable, deleted_if_orphaned, enter_namespace, shaped_network
from agc.runtime.options import add_run_arguments
from agc.runtime.protocol import PS_RANK

__all__ = ["MIN_JOIN_SECONDS", "MIN_PROCESS_GROUP_TIMEOUT", "RunFailed", "main", "run", "run_command"]

#: Seconds a rank waits for a peer inside gloo (a worker's wait for its next command, the setup).
MIN_PROCESS_GROUP_TIMEOUT = 300.0
#: Shortest time the launcher gives the process group to form (forking ``n + 1`` processes on a
#: loaded machine takes seconds); the limit is ``max(worker_timeout, MIN_JOIN_SECONDS)``.
MIN_JOIN_SECONDS = 10.0
#: The port of the PS's rendezvous inside a shaped network (its namespace is new and private).
NAMESPACE_PORT = 29500


class RunFailed(RuntimeError):
    """The run did not complete: the PS failed or was killed, a rank ended before the group formed,
    or no iteration used a message. The message says which; the PS's traceback, if it raised, is
    attached as a note.
    """


def _process_group_timeout(worker_timeout):
    return max(MIN_PROCESS_GROUP_TIMEOUT, 4 * worker_timeout)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _init(rank, world_size, worker_timeout):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=_process_group_timeout(worker_timeout)))


#: A warning of c10d's store in a network namespace without name resolution (harmless: the peer's
#: name is only logged), filtered from the ranks' start-up output.
_STORE_NOISE = "The hostname of the client socket cannot be retrieved"


@contextlib.contextmanager
def _without(noise):
    """Drop the lines containing ``noise`` from what this process writes to file descriptor 2 in the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines(True) if noise not in line]
            sys.stderr.write("".join(kept))


def _worker_main(rank, worker_timeout):
    """A worker rank once the process group exists; returns the exit status."""
    from agc.runtime import worker

    try:
        setup = worker.receive_setup()
        if "abort" in setup:
            print(f"agc worker rank {rank}: the parameter server stopped the run: {setup['abort']}", file=sys.stderr)
            return 1
        worker.serve(setup, idle_timeout=_process_group_timeout(worker_timeout))
    except worker.LostServer as error:  # the PS ended first: its own failure is reported, not this
        print(f"agc worker rank {rank}: {error}", file=sys.stderr)
        return 1
    return 0


def _mark(connection):
    """The PS's ``mark``: ask the launcher to read the shaped link's counters, and wait for them."""
    def mark(label):
        connection.send(("mark", label))
        return connection.recv() if connection.poll(60) else None

    return mark


def _rank_main(rank, world_size, address, port, environment, namespace, config, worker_timeout, connection,
               launcher):
    """Entry of one process started by :func:`run`."""
    guard_rank(launcher)
    if namespace is not None:
        enter_namespace(namespace)  # before any socket: gloo's and the store's are then inside
    os.environ.update(MASTER_ADDR=address, MASTER_PORT=str(port), **environment)
    import torch.distributed as dist

    with _without(_STORE_NOISE) if namespace is not None else contextlib.nullcontext():
        _init(rank, world_size, worker_timeout)
    connection.send(("joined", rank))
    status = 0
    try:
        if rank == PS_RANK:
            from agc.runtime import server

            try:
                connection.send(("result", server.serve(config, world_size, _mark(connection))))
            except Exception as error:
                connection.send(("error", f"{type(error).__name__}: {error}".splitlines()[0],
                                 traceback.format_exc()))
                status = 1
        else:
            status = _worker_main(rank, worker_timeout)
    finally:
        connection.close()
        dist.destroy_process_group()
    sys.exit(status)


def _stop(processes, grace):
    """Join, then terminate, then kill whatever is still running; no process outlives the run."""
    # started ones, workers first: a worker that outlived its PS by a moment would report losing it
    processes = [process for process in reversed(processes) if process.pid is not None]
    limit = time.monotonic() + grace
    for process in processes:
        process.join(timeout=max(limit - time.monotonic(), 0.0))
    for process in processes:
        if process.is_alive():
            process.terminate()
            if hasattr(signal, "SIGCONT"):  # a frozen process only acts on SIGTERM once continued
                try:
                    os.kill(process.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
    for process in processes:
        process.join(timeout=2.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=2.0)


def _exit_text(code):
    if code is not None and code < 0:
        return f"was killed by signal {signal.Signals(-code).name} (no traceback: a signal ends a process without one)"
    return f"exited with code {code}"


class _Watch:
    """The launcher's view of the ranks: pipes, joins, marks, the PS's answer."""

    def __init__(self, config, net, processes, connections):
        self.config, self.net = config, net
        self.processes, self.connections = processes, connections
        self.joined = set()
        self.result = self.error = None
        self.marks = {}

    def _read(self, rank, connection):
        try:
            message = connection.recv()
        except (EOFError, OSError):
            del self.connections[rank]
            return
        kind = message[0]
        if kind == "joined":
            self.joined.add(rank)
        elif kind == "mark":
            self.marks[message[1]] = counters = self.net.stats() if self.net is not None else None
            connection.send(counters)
        elif kind == "result":
            self.result = message[1]
        elif kind == "error":
            self.error = message[1:]

    def until_done(self):
        """Wait until the PS has ended; raise as soon as the run cannot complete."""
        config, world_size = self.config, len(self.processes)
        started = time.monotonic()
        join_limit = max(config.worker_timeout, MIN_JOIN_SECONDS)
        ps = self.processes[PS_RANK]
        while True:
            if time.monotonic() - started > config.time_limit:
                raise TimeoutError(f"the run did not finish within timeout={config.time_limit:g} s; every process "
                                   "was stopped")
            waitables = [*self.connections.values(), ps.sentinel]
            for ready in mp.connection.wait(waitables, timeout=0.25):
                for rank, connection in list(self.connections.items()):
                    if connection is ready:
                        self._read(rank, connection)
            if not ps.is_alive() and PS_RANK not in self.connections:
                return
            if not ps.is_alive() and not self.connections[PS_RANK].poll():
                return
            if len(self.joined) < world_size:
                self._check_formation(started, join_limit)

    def _check_formation(self, started, join_limit):
        for rank, process in enumerate(self.processes):
            if rank not in self.joined and process.exitcode is not None:
                who = "the parameter server (rank 0)" if rank == PS_RANK else f"worker {rank - 1} (rank {rank})"
                raise RunFailed(f"{who} {_exit_text(process.exitcode)} before the process group formed; gloo's "
                                "group needs every rank, so the run was stopped")
        if time.monotonic() - started > join_limit:
            missing = sorted(set(range(len(self.processes))) - self.joined)
            raise RunFailed(f"the process group did not form within {join_limit:g} s (ranks {missing} had not "
                            "joined); every process was stopped")


def _launch(config, net):
    """Start and watch every rank of ``config`` (in ``net``'s namespaces if given); return the result."""
    context = mp.get_context(config.start_method)
    if config.start_method == "forkserver":
        context.set_forkserver_preload(["agc.runtime.preload"])
    world_size = config.code.n + 1
    if net is None:
        address, port = "127.0.0.1", _free_port()
        sides = [{"GLOO_SOCKET_IFNAME": "lo"} if os.path.exists("/sys/class/net/lo") else {}] * 2
        namespaces = [None, None]
    else:
        address, port = net.ps_address, NAMESPACE_PORT
        sides = [{"GLOO_SOCKET_IFNAME": net.interface(side)} for side in ("ps", "workers")]
        namespaces = [net.ps_namespace, net.workers_namespace]
    processes, connections, ends = [], {}, []
    for rank in range(world_size):
        side = 0 if rank == PS_RANK else 1
        mine, theirs = context.Pipe(duplex=rank == PS_RANK)
        connections[rank] = mine
        ends.append(theirs)
        processes.append(context.Process(
            target=_rank_main, name=f"agc-rank{rank}", daemon=True,
            args=(rank, world_size, address, port, sides[side], namespaces[side],
                  config if rank == PS_RANK else None, config.worker_timeout, theirs, os.getpid())))
    watch = _Watch(config, net, processes, connections)
    finished = False
    try:
        for process, end in zip(processes, ends):
            process.start()
            end.close()  # the rank holds its end: its death closes the pipe
        watch.until_done()
        finished = watch.result is not None
    finally:
        with signals_deferred():
            if finished:  # the PS waited for every BYE already: a worker that did not answer is not waited for
                silent = set(watch.result.shutdown["unresponsive"])
                _stop([p for rank, p in enumerate(processes) if rank - 1 in silent], grace=0.0)
            _stop(processes, grace=config.worker_timeout if finished else 0.0)
            for connection in connections.values():
                connection.close()
    status = {"pids": [p.pid for p in processes], "exit_codes": [p.exitcode for p in processes]}
    if watch.error is not None:
        summary, details = watch.error
        failure = RunFailed(f"the parameter server failed: {summary}")
        failure.add_note(f"the parameter server's traceback:\n{details}")
        raise failure
    if watch.result is None:
        raise RunFailed(f"the parameter server {_exit_text(processes[PS_RANK].exitcode)} before sending its results")
    result = watch.result
    result.processes = status
    if net is not None:
        result.network = _network(net, watch.marks)
    return result


def _network(net, marks):
    def delta(after, before):
        return {key: after[key] - before[key] for key in after if key != "backlog"}

    start, stop = marks.get("iterations"), marks.get("end")
    total = net.stats()
    return {"uplink": net.uplink, "downlink": net.downlink, "uplink_burst": net.uplink_burst,
            "downlink_burst": net.downlink_burst, "limit": net.limit, "mtu": net.mtu,
            "iterations": {d: delta(stop[d], start[d]) for d in total} if start and stop else None, "total": total}


def run(config=None, /, **options):
    r"""Train through a gradient code with real processes: one PS and ``n`` workers on this machine.

    Every rank is a process on this machine, connected by gloo over the loopback interface
    (``127.0.0.1``, a free port), or over a shaped link between two network namespaces with
    ``bandwidth``. See :mod:`agc.runtime.server` for the protocol and :mod:`agc.runtime.launch`
    for what the launcher watches.

    Parameters
    ----------
    config : agc.runtime.RunConfig, agc.Code or agc.schemes.Scheme
        A configuration, or the code (then ``options`` are the other fields of
        :class:`~agc.runtime.RunConfig`).
    **options
        Fields of :class:`~agc.runtime.RunConfig` (with a configuration: changes to it).

    Returns
    -------
    agc.runtime.RunResult

    Raises
    ------
    ValueError, TypeError
        For invalid options (naming the option), before any process starts.
    agc.runtime.netns.NetworkUnavailable
        If ``bandwidth`` is given and namespaces cannot be built here (not root, no ``ip``/``tc``).
    RunFailed
        If the PS fails or is killed, a rank ends before the process group forms, or no
        iteration used a message (the parameters never changed).
    TimeoutError
        If the run exceeds ``timeout``; every process is stopped.
    agc.runtime.lifeline.Terminated
        On SIGTERM (a ``SystemExit`` with status 143), after every rank has been stopped.

    Warns
    -----
    RuntimeWarning
        If some iterations used no message, or the code's float32 decoding error exceeds
        :data:`agc.runtime.wire.FLOAT32_WARN`.

    Examples
    --------
    >>> import agc
    >>> code = agc.make_code("cyclic", "rdm", ell=2, n=4, k=4, load=2)
    >>> result = run(code, s=1, iters=3, hidden=16, delay="fixed:chunk=0.005")  # doctest: +SKIP
    >>> result.to_frame()[["used_count", "used_bytes"]].iloc[0].tolist()  # doctest: +SKIP
    [3, 7260]
    """
    if isinstance(config, RunConfig):
        config = config.replace(**options) if options else config
    else:
        config = RunConfig(config, **options)
    with sigterm_raises():
        if config.bandwidth is None:
            result = _launch(config, None)
        else:
            with shaped_network(config.bandwidth, config.downlink, handle_sigterm=False) as net, \
                    deleted_if_orphaned(net):
                result = _launch(config, net)
    empty = result.empty_iterations
    if len(empty) == len(result.iterations):
        raise RunFailed(f"no iteration used a message (all {len(empty)} decoded from 0 messages, so the parameters "
                        f"never changed): with deadline={config.deadline}, worker_timeout={config.worker_timeout:g} s "
                        f"and delay {config.delay.spec()} no worker answered in time; nothing was written")
    if empty:
        warnings.warn(f"{len(empty)} of {len(result.iterations)} iterations used no message (the parameters did not "
                      f"change in them): iterations {empty[:10]}{' ...' if len(empty) > 10 else ''}",
                      RuntimeWarning, stacklevel=2)
    if config.out is not None:
        write_json(config.out, result)
    return result


def run_command(args, prog="agc"):
    """Run the parsed options of ``agc run`` locally: one line per warning or error, an exit status.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed :func:`agc.runtime.options.add_run_arguments` options.
    prog : str
        The program named in messages.

    Returns
    -------
    int
        0 on success, 2 for bad options (or no shaped network here), 1 for a run that failed,
        130 after Ctrl-C, 143 after SIGTERM.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run(RunConfig.from_args(args))
            status, line = 0, result.summary()
        except (ValueError, TypeError, FileNotFoundError, NetworkUnavailable) as error:
            status, line = 2, f"{prog}: error: {error}"
        except KeyboardInterrupt:
            status, line = 130, f"{prog}: interrupted: every rank was stopped"
        except Terminated:
            status, line = 143, f"{prog}: terminated (SIGTERM): every rank was stopped"
        except (RuntimeError, TimeoutError) as error:
            status, line = 1, f"{prog}: failed: {error}"
    for warning in caught:
        print(f"{prog}: warning: {warning.message}".splitlines()[0], file=sys.stderr)
    print(line.splitlines()[0], file=sys.stdout if status == 0 else sys.stderr)
    return status


def _default(name):
    return next(f.default for f in fields(RunConfig) if f.name == name)


def _torchrun_rank(args):
    """One rank under ``torchrun``; rank 0 validates the options and tells the workers if they are wrong."""
    import torch.distributed as dist

    from agc.runtime import server

    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    worker_timeout = getattr(args, "worker_timeout", _default("worker_timeout"))
    config = problem = None
    if rank == PS_RANK:
        try:
            if getattr(args, "bandwidth", None) is not None:
                raise ValueError("--bandwidth builds network namespaces on one machine: it applies to local runs "
                                 "(agc run), not under torchrun")
            config = RunConfig.from_args(args)
        except (ValueError, TypeError, FileNotFoundError) as error:
            problem = f"{error}".splitlines()[0]
    _init(rank, world_size, worker_timeout)
    try:
        if rank != PS_RANK:
            return _worker_main(rank, worker_timeout)
        if problem is not None:
            for other in range(1, world_size):
                server.send_setup({"abort": problem}, other)
            print(f"agc.runtime.launch: error: {problem}", file=sys.stderr)
            return 2
        result = server.serve(config, world_size)
        if config.out is not None:
            write_json(config.out, result)
        print(result.summary())
        return 0
    finally:
        dist.destroy_process_group()


def main(argv=None):
    """``python -m agc.runtime.launch``: under torchrun one rank, otherwise every rank locally.

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    int
        The exit status (see :func:`run_command`).
    """
    parser = argparse.ArgumentParser(prog="python -m agc.runtime.launch",
                                     description="Coded parameter-server training with real processes.")
    args = add_run_arguments(parser).parse_args(argv)
    if "RANK" not in os.environ:
        return run_command(args, prog="agc.runtime.launch")
    return _torchrun_rank(args)


if __name__ == "__main__":
    sys.exit(main())
