r"""What a run returns: :class:`RunResult`, one record per iteration and the run's totals.

The parameter server builds it (:mod:`agc.runtime.server`), the launcher adds what only it knows
(the processes' exit codes, the shaped link's counters), and :meth:`RunResult.to_dict` is what
``--out`` writes; :meth:`RunResult.from_dict` reads that file back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from agc._io import json_ready

__all__ = ["ITERATION_COLUMNS", "RunResult"]

#: Per-iteration numbers of :meth:`RunResult.to_frame` (one column each).
ITERATION_COLUMNS = ("iteration", "loss", "seconds", "broadcast_seconds", "gather_seconds", "collect_seconds",
                     "used_count", "used_bytes", "bytes_received", "header_bytes", "messages", "stale_count",
                     "dead_count", "error", "err_star")


@dataclass
class RunResult:
    r"""The results of one run of the runtime.

    Attributes
    ----------
    config : dict
        :meth:`agc.runtime.RunConfig.describe` of the run.
    d : int
        Parameters of the model.
    message_floats : int
        :math:`\lceil d/\ell \rceil`, float32 entries of every message.
    message_bytes : int
        ``4 · message_floats``: the payload of every message.
    iterations : list of dict
        One record per iteration ``t``: ``seconds`` (from sending :math:`\theta_t` to the end of
        the step, without the loss evaluation and the ``check``), ``broadcast_seconds`` (from
        the start to the last used worker's receipt of :math:`\theta_t`), ``gather_seconds``
        (from then to the arrival of the last used message), ``collect_seconds`` (from the start
        to that arrival), ``used`` (the survivors), ``tags`` (the headers of the used messages),
        ``arrival_order``, ``arrival_seconds``, ``received_seconds`` and ``sent_seconds`` (each
        used worker's receipt of :math:`\theta_t` and its send, from the start), ``used_bytes``,
        ``bytes_received`` (every payload consumed, stale ones included), ``header_bytes``,
        ``messages``, ``message_floats``, ``stale`` (``[worker, tag]`` drained and dropped),
        ``unused``, ``sent_to``, ``downlink_bytes``, ``dead`` (dead or presumed dead),
        ``answers`` (every message computed from :math:`\theta_t`, used, unused or arriving in a
        later iteration: ``[worker, received, sent, arrival]``, seconds from the start),
        ``start_seconds`` (the start, from the first iteration's),
        ``loss`` at :math:`\theta_t`, and with ``check`` ``error``, ``err_star``,
        ``simulator_max_abs_diff``, ``gradient_norm``. The broadcast and gather times need the
        workers' clock to be the PS's (one machine); otherwise they are ``None``.
    loss : list of float
        ``iters + 1`` training losses, at :math:`\theta_0, \dots, \theta_{\mathrm{iters}}`.
    seconds : list of float
        The iterations' ``seconds``.
    elapsed : list of float
        Cumulative ``seconds``, starting at 0 (``iters + 1`` values, aligned with ``loss``).
    test_accuracy : float
        At the end.
    dead : dict
        Worker (as a string) → ``{"iteration", "phase", "reason"}`` for every worker whose process
        ended (``phase`` is ``"start-up"`` or ``"iterations"``).
    silent : dict
        Worker → iteration at which it was presumed dead (``-1``: during start-up).
    status : list of str
        Each worker's state at the end (``"stopped"``, ``"dead"``, ``"silent"``).
    setup_seconds : float
        From the first setup sent to the last worker ready (or presumed dead).
    warmup_seconds : list
        Each worker's warm-up gradient, seconds (``None`` if it never reported ready).
    shutdown : dict
        The shutdown: ``seconds``, ``stale``, ``messages``, ``bytes_received``, ``unresponsive``.
    total_seconds : float
        The PS's whole run, setup and shutdown included.
    same_clock : bool
        Whether every worker reads the PS's monotonic clock (same machine and boot).
    estimates : list, optional
        Every decoded gradient (``keep_estimates``).
    processes : dict
        ``pids`` and ``exit_codes`` of the ranks (local runs).
    network : dict, optional
        The shaped link (``bandwidth``): rates, bucket, and the tbf counters of each direction
        (``"up"``: workers → PS, ``"down"``) over the iterations and over the whole run.
    """

    config: dict
    d: int
    message_floats: int
    message_bytes: int
    iterations: list
    loss: list
    seconds: list
    elapsed: list
    test_accuracy: float
    dead: dict = field(default_factory=dict)
    silent: dict = field(default_factory=dict)
    status: list = field(default_factory=list)
    setup_seconds: float = math.nan
    warmup_seconds: list = field(default_factory=list)
    shutdown: dict = field(default_factory=dict)
    total_seconds: float = math.nan
    same_clock: bool = True
    estimates: list | None = None
    processes: dict = field(default_factory=dict)
    network: dict | None = None

    @property
    def empty_iterations(self):
        """Iterations that used no message (the parameters did not change in them).

        Returns
        -------
        list of int
        """
        return [record["iteration"] for record in self.iterations if not record["used"]]

    def to_dict(self):
        """A JSON-ready dictionary (what ``--out`` writes; non-finite floats become ``None``).

        Returns
        -------
        dict
        """
        return json_ready(asdict(self))

    @classmethod
    def from_dict(cls, data):
        """The result that :meth:`to_dict` wrote (e.g. read back from ``--out``).

        Parameters
        ----------
        data : dict

        Returns
        -------
        RunResult

        Raises
        ------
        ValueError
            If a field is missing or unknown.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fields of a RunResult: {unknown}")
        return cls(**data)

    def to_frame(self):
        """One row per iteration (:data:`ITERATION_COLUMNS`), plus ``elapsed`` before the iteration.

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        rows = []
        for t, record in enumerate(self.iterations):
            row = {name: record.get(name) for name in ITERATION_COLUMNS}
            row.update(used_count=len(record["used"]), stale_count=len(record["stale"]),
                       dead_count=len(record["dead"]), elapsed=self.elapsed[t])
            rows.append(row)
        return pd.DataFrame(rows, columns=[*ITERATION_COLUMNS, "elapsed"]).astype(
            {"broadcast_seconds": float, "gather_seconds": float, "error": float, "err_star": float})

    def time_to_loss(self, target):
        """Seconds of iterations until the training loss first reaches ``target`` (``nan`` if never).

        Parameters
        ----------
        target : float

        Returns
        -------
        float
        """
        hits = [t for t, loss in enumerate(self.loss) if loss <= target]
        return self.elapsed[hits[0]] if hits else math.nan

    def summary(self):
        """One line: mean seconds per iteration, bytes per used message, loss, dead workers.

        Returns
        -------
        str
        """
        per_message = sorted({r["used_bytes"] // len(r["used"]) for r in self.iterations if r["used"]})
        line = (f"{self.config['code']}: {len(self.iterations)} iterations, "
                f"{np.mean(self.seconds) * 1e3:.1f} ms/iteration, {per_message} bytes per used message, "
                f"loss {self.loss[0]:.4f} -> {self.loss[-1]:.4f}, dead workers {sorted(map(int, self.dead))}")
        if self.silent:
            line += f", presumed dead {sorted(map(int, self.silent))}"
        return line
