r"""Start a run: every rank on this machine (:func:`run`), or one rank per process under ``torchrun``.

Rank 0 is the parameter server (:mod:`agc.runtime.server`), ranks ``1..n`` are the workers
(:mod:`agc.runtime.worker`); the process group uses the gloo backend, one torch thread per rank.

On one machine, from Python::

    import agc
    from agc.runtime import run
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=8, k=8, load=3)
    results = run(code, iters=30, s=2, delay="bernoulli:base=0.05,p=0.2,factor=5")

or from the shell (without ``RANK`` in the environment the module starts all ranks itself)::

    python -m agc.runtime.launch --workers 8 --family cyclic --encoding rdm --ell 2 \
        -P k=8 -P load=3 --stragglers 2 --delay bernoulli:base=0.05,p=0.2,factor=5 --out run.json

Under ``torchrun`` each process reads ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` from the environment; the world size must be ``n + 1``. On two machines, with
the PS and 4 workers on ``host0`` and 4 workers on ``host1`` (``n = 8``, world size 9)::

    # on host0
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 5 --master-addr host0 --master-port 29500 \
        -m agc.runtime.launch --workers 8 --family cyclic --encoding rdm --ell 2 -P k=8 -P load=3 \
        --stragglers 2 --delay bernoulli:base=0.05,p=0.2,factor=5 --iters 50 --out run.json
    # on host1: the same command with --node-rank 1 --nproc-per-node 4

(``torchrun --nnodes 1 --nproc-per-node 9 --standalone -m agc.runtime.launch ...`` on one
machine). Only rank 0 needs ``--out``'s directory; the workers receive their chunks' data from
the PS, so they need neither the dataset nor matching arguments beyond ``--worker-timeout``.
Set ``GLOO_SOCKET_IFNAME`` to the network interface the machines share. A worker that exits on
schedule (``--exits``) exits with status 0, since ``torchrun`` stops the whole job when any
process fails.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import signal
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from agc._checks import check_int
from agc._parse import parse_key_values
from agc.code import Code
from agc.registry import family_function, make_code, parameters
from agc.runtime.delays import parse_delay, parse_exits
from agc.runtime.options import add_run_arguments
from agc.runtime.protocol import PS_RANK
from agc.runtime.server import RunConfig
from agc.schemes import Scheme, as_scheme
from agc.training import OPTIMIZERS, check_learning_rate, save_results

#: Seconds a rank waits for a peer inside gloo (setup, and a worker's wait for its next command).
MIN_PROCESS_GROUP_TIMEOUT = 300.0


def _positive(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def make_config(code, dataset="digits", iters=50, s=0, delay=None, seed=0, lr=None, deadline=None,
                check=False, *, decoder=None, optimizer="sgd", hidden=128, exits=None, hangs=None, survivors=None,
                preempt=True, worker_timeout=30.0, keep_estimates=False, dataset_options=None):
    """Validate the arguments of :func:`run` and return a :class:`agc.runtime.server.RunConfig`.

    Parameters
    ----------
    code, dataset, iters, s, delay, seed, lr, deadline, check
        As in :func:`run`.
    decoder, optimizer, hidden, exits, hangs, survivors, preempt, worker_timeout, keep_estimates, dataset_options
        As in :func:`run`.

    Returns
    -------
    agc.runtime.server.RunConfig

    Raises
    ------
    ValueError, TypeError
        For an invalid argument, naming it.
    """
    if not isinstance(code, (Code, Scheme)):
        raise TypeError(f"code must be an agc.Code or an agc.schemes.Scheme, got {type(code).__name__}")
    scheme = as_scheme(code, decoder)
    if scheme.code is None:
        raise ValueError("code: the scheme 'full' has no workers; pass a code or agc.schemes.ignore_stragglers(n)")
    n = scheme.code.n
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(map(repr, OPTIMIZERS))}")
    if lr is not None:
        check_learning_rate(lr)
    if survivors is not None:
        survivors = tuple(sorted(check_int("survivors", j, low=0, high=n - 1) for j in survivors))
        if len(set(survivors)) != len(survivors):
            raise ValueError(f"survivors contains repeated workers: {list(survivors)}")
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a name ('digits' or 'mnist'), got {type(dataset).__name__}")
    return RunConfig(
        scheme=scheme, dataset=dataset, dataset_options=dict(dataset_options or {}),
        iters=check_int("iters", iters, low=0), s=check_int("s", s, low=0, high=n - 1),
        deadline=_positive("deadline", deadline, allow_none=True), survivors=survivors,
        seed=check_int("seed", seed, low=0), lr=lr, optimizer=optimizer, hidden=check_int("hidden", hidden, low=1),
        check=bool(check), delay=parse_delay(delay), exits=parse_exits(exits, n),
        hangs=parse_exits(hangs, n, name="hangs"), preempt=bool(preempt),
        worker_timeout=_positive("worker_timeout", worker_timeout), keep_estimates=bool(keep_estimates),
    )


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process_group_timeout(worker_timeout):
    return max(MIN_PROCESS_GROUP_TIMEOUT, 4 * worker_timeout)


def _serve_rank(rank, world_size, config, out, worker_timeout):
    """Body of one rank once the process group exists: the PS (rank 0, returns the results) or a worker."""
    import torch.distributed as dist

    from agc.runtime import server, worker

    if rank == PS_RANK:
        results = server.serve(config, world_size)
        if out is not None:
            save_results(results, out)
        return results
    received = [None]
    dist.recv_object_list(received, src=PS_RANK)
    setup = received[0]
    if "abort" in setup:
        raise SystemExit(f"worker rank {rank}: the parameter server aborted the run: {setup['abort']}")
    worker.serve(setup, idle_timeout=_process_group_timeout(worker_timeout))
    return None


def _init(rank, world_size, worker_timeout, init_method="env://"):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=_process_group_timeout(worker_timeout)))


def _rank_main(rank, world_size, port, config, out, worker_timeout):
    """Entry of one process started by :func:`run` (loopback only)."""
    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    if os.path.exists("/sys/class/net/lo"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    _init(rank, world_size, worker_timeout)
    try:
        _serve_rank(rank, world_size, config, out, worker_timeout)
    finally:
        dist.destroy_process_group()


def _stop(processes, grace):
    """Join, then terminate, then kill whatever is still running; no process outlives the run."""
    processes = [process for process in processes if process.pid is not None]  # started ones
    limit = time.monotonic() + grace
    for process in processes:
        process.join(timeout=max(limit - time.monotonic(), 0.0))
    for process in processes:
        if process.is_alive():
            process.terminate()
            if hasattr(signal, "SIGCONT"):  # a frozen process only acts on SIGTERM once continued
                os.kill(process.pid, signal.SIGCONT)
            process.join(timeout=2.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=2.0)


def run(code, dataset="digits", iters=50, s=0, delay=None, seed=0, lr=None, deadline=None, check=False,
        out=None, *, decoder=None, optimizer="sgd", hidden=128, exits=None, hangs=None, survivors=None,
        preempt=True, worker_timeout=30.0, timeout=None, keep_estimates=False, dataset_options=None,
        start_method="forkserver"):
    r"""Train through a gradient code with real processes: one PS and ``n`` workers on this machine.

    Every rank is a process on this machine, connected by gloo over the loopback interface
    (``127.0.0.1``, a free port). See :mod:`agc.runtime.server` for the protocol.

    Parameters
    ----------
    code : agc.Code or agc.schemes.Scheme
        The code (decoded with ``decoder``), or a scheme such as
        :func:`agc.schemes.ignore_stragglers` (``n`` uncoded workers, survivors rescaled).
    dataset : str
        ``"digits"`` or ``"mnist"`` (:func:`agc.data.load_dataset`, options in ``dataset_options``).
    iters : int
        Iterations (optimiser steps).
    s : int
        Stragglers: the PS keeps the first ``n − s`` messages of each iteration (``0``: wait for all).
    delay : None, str, dict or agc.runtime.delays.Delay
        Straggler model, :data:`agc.runtime.DELAY_MODELS` (e.g. ``"shifted_exponential:shift=0.05,scale=0.05"``).
    seed : int
        Seeds, as in :func:`agc.training.train`, the model, the chunk split, and the delays.
    lr : float, optional
        Learning rate (default :func:`agc.training.default_lr` for the optimizer and dataset).
    deadline : float, optional
        Seconds after sending :math:`\theta_t`: keep every message in by then (instead of the
        first ``n − s``), ending early when all live workers have answered.
    check : bool
        The PS also computes the exact gradient at :math:`\theta_t` (outside the timed part) and
        records the relative error, the normalised ``err*(S)`` and the largest difference from
        the simulator's estimate for the same survivors.
    out : path-like, optional
        Write the results there as JSON (atomically).
    decoder : {"optimal", "unbiased", "rescaled"}, optional
        Default ``"optimal"`` for a code; the ``"unbiased"`` decoder rescales by ``s/n``.
    optimizer : {"sgd", "adam"}
    hidden : int
        Hidden units of the MLP.
    exits : dict or str, optional
        ``{worker: iteration}`` (or ``"worker@iteration,..."``): the worker's process exits when
        it receives that iteration's parameters.
    hangs : dict or str, optional
        Like ``exits``, but the worker freezes (``SIGSTOP``): alive, connections open, silent. The
        PS presumes it dead after ``worker_timeout``; the launcher kills it at the end. For
        local runs only (``torchrun`` would wait for it forever).
    survivors : sequence of int, optional
        Force the survivor set: the PS waits for exactly these workers every iteration.
    preempt : bool
        Workers abandon a delayed iteration when newer parameters arrive (fresh delays every
        iteration); with ``False`` they finish it and their late message is dropped by the PS.
    worker_timeout : float
        A worker silent this long while it has work is presumed dead; also the longest wait of
        the shutdown.
    timeout : float, optional
        Wall-clock limit of the whole run (default ``300 + iters · worker_timeout``); past it
        every process is terminated and :class:`TimeoutError` raised.
    keep_estimates : bool
        Keep every decoded gradient in ``results["estimates"]``.
    dataset_options : dict, optional
    start_method : {"forkserver", "spawn"}
        ``"forkserver"`` imports torch and agc once per Python session and forks every rank
        from that server, so that later runs start in a fraction of a second.

    Returns
    -------
    dict
        JSON-ready: ``config``, ``d``, ``message_floats`` (``⌈d/ℓ⌉``), ``message_bytes``,
        ``iterations`` (one record per iteration: ``seconds`` (sending :math:`\theta_t` to
        the step, without the loss evaluation and the ``check``), ``used`` (the survivors),
        ``tags`` (the headers of the used messages), ``arrival_seconds``, ``used_bytes``,
        ``bytes_received`` (every payload consumed, stale ones included), ``message_floats``,
        ``stale`` (``[worker, tag]`` drained and dropped), ``dead`` (dead or presumed dead),
        ``loss`` at :math:`\theta_t`, and with ``check`` ``error``, ``err_star``,
        ``simulator_max_abs_diff``), ``loss`` (``iters + 1`` values), ``seconds``, ``elapsed``
        (cumulative), ``test_accuracy``, ``dead`` (worker → iteration noticed and reason),
        ``silent`` (presumed dead), ``status``, ``shutdown``, ``processes`` (pids, exit codes).

    Raises
    ------
    ValueError, TypeError
        For invalid arguments (naming the parameter).
    RuntimeError
        If the parameter server fails.
    TimeoutError
        If the run exceeds ``timeout``.
    """
    config = make_config(code, dataset, iters, s, delay, seed, lr, deadline, check, decoder=decoder,
                         optimizer=optimizer, hidden=hidden, exits=exits, hangs=hangs, survivors=survivors,
                         preempt=preempt,
                         worker_timeout=worker_timeout, keep_estimates=keep_estimates,
                         dataset_options=dataset_options)
    if start_method not in ("forkserver", "spawn"):
        raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
    timeout = _positive("timeout", timeout, allow_none=True) or 300.0 + config.iters * config.worker_timeout
    context = mp.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(["agc.runtime.preload"])
    world_size = config.code.n + 1
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="agc-run-") as directory:
        path = Path(directory) / "results.json"
        processes = [
            context.Process(target=_rank_main, name=f"agc-rank{rank}", daemon=True,
                            args=(rank, world_size, port, config if rank == PS_RANK else None,
                                  path if rank == PS_RANK else None, config.worker_timeout))
            for rank in range(world_size)
        ]
        timed_out = True
        try:
            for process in processes:
                process.start()
            processes[PS_RANK].join(timeout=timeout)
            timed_out = processes[PS_RANK].is_alive()
        finally:
            _stop(processes, grace=0.0 if timed_out else config.worker_timeout)
        status = {"pids": [p.pid for p in processes], "exit_codes": [p.exitcode for p in processes]}
        if timed_out:
            raise TimeoutError(f"the run did not finish within timeout={timeout} s; all processes were terminated")
        if processes[PS_RANK].exitcode != 0 or not path.exists():
            raise RuntimeError(f"the parameter server failed with exit code {processes[PS_RANK].exitcode} "
                               "(its traceback is on stderr)")
        results = json.loads(path.read_text())
    results["processes"] = status
    if out is not None:
        save_results(results, out)
    return results


def named_code(workers, family, encoding, ell, params=None, seed=0):
    """``agc.make_code(family, encoding, ell, seed=seed, **params)``, with ``n`` and ``k`` defaulting to ``workers``.

    Raises
    ------
    ValueError
        If the code does not have ``workers`` workers.

    Parameters
    ----------
    workers : int
        ``n``.
    family, encoding : str
        Names of :mod:`agc.registry`.
    ell : int
    params : dict, optional
        The family's and encoding's parameters; ``n`` and ``k`` default to ``workers``.
    seed : int

    Returns
    -------
    agc.Code

    Examples
    --------
    >>> named_code(6, "cyclic", "stacking", 2, {"load": 3})
    Code(name='cyclic/stacking', n=6, k=6, ell=2)
    """
    workers = check_int("workers", workers, low=1)
    params = dict(params or {})
    accepted = {p.name for p in parameters(family_function(family))}
    for name in ("n", "k"):
        if name not in params and name in accepted:
            params[name] = workers
    code = make_code(family, encoding, ell, seed=seed, **params)
    if code.n != workers:
        raise ValueError(f"workers={workers} but the code {code.name!r} with {params} has n={code.n} workers")
    return code


def run_named(workers, family, encoding, ell, *, params=None, s=0, delay="none", iters=50, seed=0,
              lr=None, deadline=None, check=False, out=None, decoder=None, exits=None, hidden=128,
              dataset="digits", preempt=True, worker_timeout=30.0, timeout=None):
    """:func:`run` with the code named by strings and numbers (for the ``agc run`` command).

    The code is ``agc.make_code(family, encoding, ell, seed=seed, **params)``; when the family
    takes ``n`` (``k``) and ``params`` does not give it, it is set to ``workers``.

    Parameters
    ----------
    workers : int
        ``n``; must match the code.
    family, encoding : str
        See ``agc info``.
    ell : int
    params : dict, optional
        The family's and the encoding's parameters (``{"load": 3}``).
    delay : str
        ``"model:key=value,..."`` (:data:`DELAY_MODELS`).
    exits : str, optional
        ``"worker@iteration,..."``.
    s, iters, seed, lr, deadline, check, out, decoder, hidden, dataset, preempt, worker_timeout, timeout
        As in :func:`run`.

    Returns
    -------
    dict
        The results of :func:`run`.

    Raises
    ------
    ValueError
        If the code does not have ``workers`` workers.
    """
    code = named_code(workers, family, encoding, ell, params, seed)
    return run(code, dataset, iters, s, delay, seed, lr, deadline, check, out, decoder=decoder,
               exits=exits, hidden=hidden, preempt=preempt, worker_timeout=worker_timeout, timeout=timeout)


def summary(results):
    """One line per run: mean seconds per iteration, bytes per used message, final loss, dead workers.

    Parameters
    ----------
    results : dict
        What :func:`run` returns.

    Returns
    -------
    str
    """
    per_message = {r["used_bytes"] // max(len(r["used"]), 1) for r in results["iterations"] if r["used"]}
    return (f"{results['config']['code']}: {len(results['iterations'])} iterations, "
            f"{np.mean(results['seconds']) * 1e3:.1f} ms/iteration, {sorted(per_message)} bytes per used message, "
            f"loss {results['loss'][0]:.4f} -> {results['loss'][-1]:.4f}, dead workers {sorted(results['dead'])}")


def run_locally(args):
    """Spawn every rank on this machine for parsed :func:`add_run_arguments` options; print a summary.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed :func:`agc.runtime.options.add_run_arguments` options.

    Returns
    -------
    dict
        The results of :func:`run`.
    """
    # the importable module, not __main__, so that the ranks' entry point pickles by name
    from agc.runtime.launch import run_named

    results = run_named(args.workers, args.family, args.encoding, args.ell, params=parse_key_values(args.param),
                        **_options(args))
    print(summary(results))
    return results


def _options(args):
    return dict(s=args.s, delay=args.delay, iters=args.iters, seed=args.seed, lr=args.lr,
                deadline=args.deadline, check=args.check, out=args.out, decoder=args.decoder, exits=args.exits,
                hidden=args.hidden, dataset=args.dataset, preempt=not args.no_preempt,
                worker_timeout=args.worker_timeout)


def main(argv=None):
    """``python -m agc.runtime.launch``: under torchrun one rank, otherwise every rank locally.

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m agc.runtime.launch",
                                     description="Coded parameter-server training with real processes.")
    args = add_run_arguments(parser).parse_args(argv)
    if "RANK" not in os.environ:
        run_locally(args)
        return 0
    import torch.distributed as dist

    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    _init(rank, world_size, args.worker_timeout)
    try:
        config = None
        if rank == PS_RANK:
            code = named_code(args.workers, args.family, args.encoding, args.ell, parse_key_values(args.param),
                              args.seed)
            config = make_config(code, args.dataset, args.iters, args.s, args.delay, args.seed, args.lr,
                                 args.deadline, args.check, decoder=args.decoder, hidden=args.hidden,
                                 exits=args.exits, preempt=not args.no_preempt, worker_timeout=args.worker_timeout)
        results = _serve_rank(rank, world_size, config, args.out, args.worker_timeout)
        if rank == PS_RANK:
            print(summary(results))
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
