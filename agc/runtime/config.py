r"""The options of a run, defined once: :class:`RunConfig` (fields, defaults, validation, ``from_args``).

Every entry point builds one: :func:`agc.runtime.run` from a code and keyword arguments, ``agc
run`` and ``python -m agc.runtime.launch`` from the parsed command line
(:meth:`RunConfig.from_args`, options of :mod:`agc.runtime.options`), and rank 0 under
``torchrun`` the same way. Validation happens in ``__post_init__``, in the launcher, before any
process starts: a bad value costs one line (``agc run`` exits with code 2), never a started run.

This module imports neither torch nor pandas, so that building the ``agc`` parser stays quick.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from agc._checks import check_int
from agc.code import Code
from agc.runtime.delays import Delay, parse_delay, parse_exits
from agc.runtime.wire import FLOAT32_LIMIT, FLOAT32_WARN, float32_error
from agc.schemes import Scheme, as_scheme, decoder_matrix, exact_fixed_decoder

__all__ = ["START_METHODS", "RunConfig", "named_code"]

#: How :func:`agc.runtime.run` starts the ranks (``multiprocessing`` start methods).
START_METHODS = ("forkserver", "spawn")
#: Seconds the whole run may take beyond ``iters · worker_timeout`` when ``timeout`` is not given.
BASE_TIMEOUT = 300.0


def _seconds(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_out(out):
    """``out`` as a string, after :func:`agc._io.check_writable` (which creates and removes a probe file)."""
    from agc._io import check_writable

    return str(check_writable(out, suffixes=(".json",), name="out"))


def _check_dataset(name, options, k):
    """The dataset's resolved name; errors for an unknown name, missing files or too few samples."""
    from agc.data import FASHION_MNIST_DIR, LOADERS, MNIST_ENV, auto_dataset, fashion_mnist_installed

    if not isinstance(name, str):
        raise TypeError(f"dataset must be a name ({', '.join(map(repr, [*LOADERS, 'auto']))}), "
                        f"got {type(name).__name__}")
    if not isinstance(options, dict):
        raise TypeError(f"dataset_options must be a dict, got {type(options).__name__}")
    options = dict(options)
    if name == "auto":
        name = auto_dataset()
        if name == "digits":
            options = {key: value for key, value in options.items() if key == "seed"}
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid: " + ", ".join(repr(key) for key in [*LOADERS, "auto"]))
    allowed = {"seed", "test_size"} | ({"path", "train_size"} if name != "digits" else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"dataset {name!r} takes the options {sorted(allowed)}, got {unknown}")
    if name != "digits":
        directory = options.get("path") or ((os.environ.get(MNIST_ENV) or None) if name == "mnist" else FASHION_MNIST_DIR)
        if directory is None:
            raise ValueError(f"dataset 'mnist' needs its IDX files: give the directory (--data-dir, or "
                             f"dataset_options={{'path': ...}}) or set {MNIST_ENV}")
        if not (fashion_mnist_installed(directory) or (Path(directory) / "mnist.npz").is_file()):
            raise ValueError(f"dataset {name!r}: no IDX files in {directory} (train-images-idx3-ubyte, "
                             "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
                             "optionally .gz)")
        size = options.get("train_size")
        if size is not None and check_int("train_size", size, low=1) < k:
            raise ValueError(f"train_size={size} is smaller than the k={k} chunks of the code")
    return name, options


@dataclass(frozen=True)
class RunConfig:
    r"""Everything that defines a run of the runtime, validated on construction.

    Attributes
    ----------
    scheme : agc.Code or agc.schemes.Scheme
        The code (decoded with ``decoder``), or a scheme such as
        :func:`agc.schemes.ignore_stragglers`; stored as a :class:`agc.schemes.Scheme`.
    decoder : {"optimal", "unbiased", "rescaled"}, optional
        Default ``"optimal"`` for a code; ``"unbiased"`` and ``"rescaled"`` need a code with an
        exact fixed decoder (checked here). Stored as the scheme's decoder.
    dataset : str
        ``"digits"``, ``"mnist"``, ``"fashion-mnist"`` or ``"auto"`` (resolved here,
        :func:`agc.data.load_dataset`); the image sets' files are checked here.
    dataset_options : dict
        Passed to the loader (``path``, ``train_size``, ``test_size``, ``seed``).
    iters : int
        Iterations (optimiser steps), at least 1.
    s : int
        Stragglers: the PS keeps the first ``n − s`` messages of each iteration (``0``: wait for all).
    deadline : float, optional
        Seconds after sending :math:`\theta_t`: keep every message in by then (instead of the
        first ``n − s``), ending early when all live workers have answered.
    survivors : sequence of int, optional
        Force the survivor set: the PS waits for exactly these workers every iteration (not empty).
    seed : int
        Seeds, as in :func:`agc.training.train`, the model, the chunk split and the delays.
    lr : float, optional
        Learning rate (default :func:`agc.training.default_lr` for the optimizer and dataset).
    optimizer : {"sgd", "adam"}
    hidden : int
        Hidden units of the MLP.
    check : bool
        The PS also computes the exact gradient at :math:`\theta_t` (outside the timed part) and
        records the relative error, the normalised ``err*(S)`` and the largest difference from
        the simulator's estimate for the same survivors.
    delay : None, str, dict or agc.runtime.delays.Delay
        Straggler model, :data:`agc.runtime.DELAY_MODELS` (e.g. ``"multiplicative:chunk=0.01,p=0.2,factor=5"``);
        stored as a :class:`~agc.runtime.delays.Delay` seeded from ``seed``.
    exits : dict or str, optional
        ``{worker: iteration}`` (or ``"worker@iteration,..."``): the worker's process exits when
        it receives that iteration's parameters (``-1`` or ``start``: during start-up).
    hangs : dict or str, optional
        Like ``exits``, but the worker freezes (``SIGSTOP``): alive, connections open, silent.
        For local runs only (``torchrun`` would wait for it forever).
    preempt : bool
        Workers abandon a delayed iteration when newer parameters arrive (fresh delays every
        iteration); with ``False`` they finish it and their late message is dropped by the PS.
    worker_timeout : float
        A worker silent this long while it has work (its setup included) is presumed dead; also
        the longest wait of the shutdown and of the process group's formation (at least
        :data:`agc.runtime.launch.MIN_JOIN_SECONDS`).
    keep_estimates : bool
        Keep every decoded gradient in the results.
    timeout : float, optional
        Wall-clock limit of the whole run (default ``300 + iters · worker_timeout``).
    out : path-like, optional
        Write the results there as JSON (atomically); checked writable here.
    bandwidth : str or int, optional
        Run the PS and the workers in network namespaces joined by a link whose workers → PS
        direction is shaped at this rate (``"100mbit"``, :func:`agc.runtime.netns.parse_rate`);
        needs root and iproute2 (:func:`agc.runtime.netns.available`). Stored in bits/s.
    downlink : str or int, optional
        Rate of the PS → workers direction (the broadcast); default ``bandwidth``.
    float32_limit : float
        Refuse a code whose float32 messages would cost more than this relative gradient error
        (:func:`agc.runtime.wire.float32_error`; default :data:`agc.runtime.wire.FLOAT32_LIMIT`);
        above :data:`agc.runtime.wire.FLOAT32_WARN` a warning is given.
    start_method : {"forkserver", "spawn"}
        ``"forkserver"`` imports torch and agc once per Python session and forks every rank
        from that server, so that later runs start in a fraction of a second.

    Raises
    ------
    ValueError, TypeError
        For an invalid option, naming it, with the valid range.
    agc.runtime.netns.NetworkUnavailable
        For ``bandwidth`` where shaped links cannot be built (not root, no ``ip``/``tc``).

    Examples
    --------
    >>> import agc
    >>> config = RunConfig(agc.make_code("cyclic", "rdm", ell=2, n=4, k=4, load=2), s=1, iters=3)
    >>> config.code.n, config.decoder, config.delay.model
    (4, 'optimal', 'none')
    >>> RunConfig(config.scheme, s=4)
    Traceback (most recent call last):
    ...
    ValueError: s must be <= 3, got 4
    """

    scheme: object
    decoder: str | None = None
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
    delay: object = None
    exits: object = None
    hangs: object = None
    preempt: bool = True
    worker_timeout: float = 30.0
    keep_estimates: bool = False
    timeout: float | None = None
    out: object = None
    bandwidth: object = None
    downlink: object = None
    float32_limit: float = FLOAT32_LIMIT
    start_method: str = "forkserver"

    def __post_init__(self):
        from agc.runtime.netns import NetworkUnavailable, available, parse_rate
        from agc.training import OPTIMIZERS, check_learning_rate

        def set_(name, value):
            object.__setattr__(self, name, value)

        if not isinstance(self.scheme, (Code, Scheme)):
            raise TypeError(f"code must be an agc.Code or an agc.schemes.Scheme, got {type(self.scheme).__name__}")
        scheme = as_scheme(self.scheme, self.decoder)
        if scheme.code is None:
            raise ValueError("code: the scheme 'full' has no workers; pass a code or agc.schemes.ignore_stragglers(n)")
        set_("scheme", scheme)
        set_("decoder", scheme.decoder)
        n = scheme.code.n
        if scheme.decoder != "optimal":
            exact_fixed_decoder(scheme)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(map(repr, OPTIMIZERS))}")
        if self.lr is not None:
            set_("lr", check_learning_rate(self.lr))
        dataset, options = _check_dataset(self.dataset, self.dataset_options, scheme.code.k)
        set_("dataset", dataset)
        set_("dataset_options", options)
        set_("iters", check_int("iters", self.iters, low=1))
        set_("s", check_int("s", self.s, low=0, high=n - 1))
        set_("deadline", _seconds("deadline", self.deadline, allow_none=True))
        if self.survivors is not None:
            if isinstance(self.survivors, str):
                raise TypeError(f"survivors must be a sequence of worker indices, got {self.survivors!r}")
            survivors = tuple(sorted(check_int("survivors", j, low=0, high=n - 1) for j in self.survivors))
            if len(set(survivors)) != len(survivors):
                raise ValueError(f"survivors contains repeated workers: {list(survivors)}")
            if not survivors:
                raise ValueError("survivors must name at least one worker: with none, no iteration could use a "
                                 "message")
            set_("survivors", survivors)
        set_("seed", check_int("seed", self.seed, low=0))
        set_("hidden", check_int("hidden", self.hidden, low=1))
        for name in ("check", "preempt", "keep_estimates"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        from agc.seeds import streams

        delay = parse_delay(self.delay)
        set_("delay", Delay(delay.model, delay.params, streams(self.seed).delay_seed).check_workers(n))
        set_("exits", parse_exits(self.exits, n))
        set_("hangs", parse_exits(self.hangs, n, name="hangs"))
        both = sorted(set(self.exits) & set(self.hangs))
        if both:
            raise ValueError(f"workers {both} are given both an exit and a hang")
        set_("worker_timeout", _seconds("worker_timeout", self.worker_timeout))
        set_("timeout", _seconds("timeout", self.timeout, allow_none=True))
        if self.out is not None:
            set_("out", _check_out(self.out))
        if self.downlink is not None and self.bandwidth is None:
            raise ValueError("downlink is the rate of the shaped link's PS → workers direction: give bandwidth too")
        if self.bandwidth is not None:
            set_("bandwidth", parse_rate(self.bandwidth, "bandwidth"))
            set_("downlink", parse_rate(self.downlink, "downlink") if self.downlink is not None else self.bandwidth)
            ok, reason = available()
            if not ok:
                raise NetworkUnavailable(f"bandwidth={self.bandwidth} bit/s: {reason}")
        if isinstance(self.float32_limit, bool) or not isinstance(self.float32_limit, (int, float)) \
                or not self.float32_limit > 0:
            raise ValueError(f"float32_limit must be a positive number, got {self.float32_limit!r}")
        if self.start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {self.start_method!r}")
        self._check_wire()

    def _check_wire(self):
        """Refuse (or warn about) a code that float32 messages would decode badly."""
        scheme, code = self.scheme, self.code
        s = code.n - len(self.survivors) if self.survivors is not None else self.s
        D_full = exact_fixed_decoder(scheme) if scheme.decoder != "optimal" else None
        p = self.s / code.n

        def decoder(mask):
            return decoder_matrix(scheme, mask, p, D_full)

        error = float32_error(code, s, decoder=decoder, seed=self.seed).max
        where = (f"code {code.name!r} (n={code.n}) with s={s}: float32 messages give a relative gradient error up "
                 f"to {error:.2g} (agc.runtime.wire.float32_error)")
        if error > self.float32_limit:
            raise ValueError(f"{where}, above float32_limit={self.float32_limit:g}; use a better conditioned code or "
                             "a smaller n, or raise float32_limit to accept it")
        if error > FLOAT32_WARN:
            warnings.warn(f"{where}, above {FLOAT32_WARN:g}", RuntimeWarning, stacklevel=3)

    @property
    def code(self):
        """The scheme's :class:`agc.Code`."""
        return self.scheme.code

    @property
    def time_limit(self):
        """Seconds the whole run may take: ``timeout``, else ``300 + iters · worker_timeout``."""
        return self.timeout or BASE_TIMEOUT + self.iters * self.worker_timeout

    def replace(self, **changes):
        """A copy with some options changed (validated again).

        Parameters
        ----------
        **changes
            Fields of :class:`RunConfig`.

        Returns
        -------
        RunConfig
        """
        return replace(self, **changes)

    def describe(self):
        """A JSON-ready summary of the run's options.

        Returns
        -------
        dict
        """
        code = self.code
        from agc._io import json_ready

        return {
            "scheme": self.scheme.name, "decoder": self.decoder, "code": repr(code), "n": code.n, "k": code.k,
            "ell": code.ell, "load": code.load.tolist(), "code_params": json_ready(code.params),
            "dataset": self.dataset, "dataset_options": json_ready(self.dataset_options), "iters": self.iters,
            "s": self.s, "deadline": self.deadline,
            "survivors": list(self.survivors) if self.survivors is not None else None, "seed": self.seed,
            "lr": self.lr, "optimizer": self.optimizer, "hidden": self.hidden, "check": self.check,
            "delay": self.delay.to_dict(), "exits": {str(w): t for w, t in self.exits.items()},
            "hangs": {str(w): t for w, t in self.hangs.items()}, "preempt": self.preempt,
            "worker_timeout": self.worker_timeout, "timeout": self.timeout, "bandwidth": self.bandwidth,
            "downlink": self.downlink, "float32_limit": self.float32_limit,
        }

    @classmethod
    def from_args(cls, args):
        """Build the configuration of parsed :func:`agc.runtime.options.add_run_arguments` options.

        Options the command line did not give keep the defaults of this class (the parser's
        defaults are ``argparse.SUPPRESS``). The code is :func:`named_code` of ``--workers``,
        ``--family``, ``--encoding``, ``--ell`` and the ``-P`` parameters.

        Parameters
        ----------
        args : argparse.Namespace

        Returns
        -------
        RunConfig

        Raises
        ------
        ValueError, TypeError
            For any invalid option.
        """
        from agc._parse import parse_key_values

        given = vars(args)
        seed = given.get("seed", 0)
        code = named_code(args.workers, args.family, args.encoding, args.ell, parse_key_values(args.param), seed)
        options = {f.name: given[f.name] for f in fields(cls) if f.name != "scheme" and f.name in given}
        if "no_preempt" in given:
            options["preempt"] = not given["no_preempt"]
        if "survivors" in options:
            options["survivors"] = _indices(options["survivors"], "--survivors")
        dataset_options = {}
        if given.get("data_dir") is not None:
            dataset_options["path"] = given["data_dir"]
        if given.get("train_size") is not None:
            dataset_options["train_size"] = given["train_size"]
        return cls(code, dataset_options=dataset_options, **options)


def _indices(text, option):
    try:
        return [int(item) for item in text.split(",") if item.strip() != ""]
    except ValueError:
        raise ValueError(f"{option} expects comma-separated worker indices, got {text!r}") from None


def named_code(workers, family, encoding, ell, params=None, seed=0):
    """``agc.make_code(family, encoding, ell, seed=seed, **params)``, with ``n`` and ``k`` defaulting to ``workers``.

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

    Raises
    ------
    ValueError
        If the code does not have ``workers`` workers.

    Examples
    --------
    >>> named_code(6, "cyclic", "stacking", 2, {"load": 3})
    Code(name='cyclic/stacking', n=6, k=6, ell=2)
    """
    from agc.registry import family_function, make_code, parameters

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
