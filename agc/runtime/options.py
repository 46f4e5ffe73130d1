"""Command-line options of ``agc run`` and ``python -m agc.runtime.launch``: the spelling of :class:`RunConfig`.

Every option that sets a field of :class:`agc.runtime.RunConfig` defaults to
``argparse.SUPPRESS``: an option not given is absent from the parsed namespace, and
:meth:`RunConfig.from_args` leaves the field at the dataclass's default, so defaults live in one
place (the help texts quote them from there). Kept apart from the launcher so that building the
``agc`` parser does not import torch.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from agc.runtime.config import RunConfig
from agc.runtime.delays import DELAY_MODELS

_DEFAULTS = {f.name: f.default for f in fields(RunConfig)}


def _default(name):
    return f" (default {_DEFAULTS[name]})"


def add_run_arguments(parser):
    """The options of ``agc run`` and ``python -m agc.runtime.launch`` (one definition for both).

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Returns
    -------
    argparse.ArgumentParser
        ``parser``, with the options added.
    """
    hidden = argparse.SUPPRESS
    parser.add_argument("--workers", type=int, required=True, help="n, the number of workers")
    parser.add_argument("--family", required=True, help="assignment family (see `agc info`)")
    parser.add_argument("--encoding", required=True, help="encoding (see `agc info`)")
    parser.add_argument("--ell", type=int, required=True, help="communication reduction ell")
    parser.add_argument("-P", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a family or encoding parameter; n and k default to --workers")
    # --stragglers is the spelling to use under torchrun, whose parser reads --s as an abbreviation of its own options
    parser.add_argument("--s", "--stragglers", type=int, default=hidden, dest="s",
                        help="s, the number of stragglers: the PS keeps the first n - s messages" + _default("s"))
    parser.add_argument("--delay", default=hidden,
                        help="model:key=value,... one of " + ", ".join(DELAY_MODELS)
                             + "; a per-worker p as p=0.1|0.2|... (default none)")
    parser.add_argument("--deadline", type=float, default=hidden,
                        help="seconds: keep every message in by then instead")
    parser.add_argument("--decoder", default=hidden, help="optimal (default), unbiased or rescaled")
    parser.add_argument("--survivors", default=hidden, metavar="J,J,...",
                        help="force the survivor set: the PS waits for exactly these workers")
    parser.add_argument("--exits", default=hidden,
                        help="worker@iteration,...: workers that really exit at that iteration (@start: at start-up)")
    parser.add_argument("--hangs", default=hidden,
                        help="worker@iteration,...: workers that freeze (SIGSTOP) at that iteration (local runs)")
    parser.add_argument("--iters", type=int, default=hidden, help="iterations" + _default("iters"))
    parser.add_argument("--seed", type=int, default=hidden, help="seed of the model, data split and delays"
                        + _default("seed"))
    parser.add_argument("--optimizer", default=hidden, help="sgd or adam" + _default("optimizer"))
    parser.add_argument("--lr", type=float, default=hidden, help="learning rate (default by optimizer and dataset)")
    parser.add_argument("--hidden", type=int, default=hidden, help="hidden units of the MLP" + _default("hidden"))
    parser.add_argument("--dataset", default=hidden,
                        help="digits, fashion-mnist, mnist (local files) or auto" + _default("dataset"))
    parser.add_argument("--data-dir", "--mnist-dir", dest="data_dir", default=None,
                        help="directory with the IDX files (mnist, fashion-mnist)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="a seeded subset of this many training images (mnist, fashion-mnist)")
    parser.add_argument("--no-preempt", action="store_true", default=hidden,
                        help="let slow workers finish; late messages are dropped")
    parser.add_argument("--check", action="store_true", default=hidden,
                        help="also record the decoding error against the exact gradient")
    parser.add_argument("--worker-timeout", type=float, default=hidden, dest="worker_timeout",
                        help="seconds of silence before a worker is presumed dead" + _default("worker_timeout"))
    parser.add_argument("--timeout", type=float, default=hidden,
                        help="wall-clock limit of the whole run (default 300 + iters x worker timeout)")
    parser.add_argument("--bandwidth", default=hidden, metavar="RATE",
                        help="run in network namespaces joined by a link shaped at RATE (e.g. 100mbit), "
                             "workers -> PS; needs root and iproute2")
    parser.add_argument("--downlink", default=hidden, metavar="RATE",
                        help="rate of the shaped link's PS -> workers direction (default --bandwidth)")
    parser.add_argument("--float32-limit", type=float, default=hidden, dest="float32_limit",
                        help="refuse a code whose float32 messages cost more relative gradient error"
                             + _default("float32_limit"))
    parser.add_argument("--out", default=hidden, help="results JSON, written atomically")
    return parser
