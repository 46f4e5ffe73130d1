"""Command-line options of ``agc run`` and ``python -m agc.runtime.launch``, defined once.

Kept apart from the launcher so that building the ``agc`` parser does not import torch.
"""

from __future__ import annotations

from agc.runtime.delays import DELAY_MODELS


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
    parser.add_argument("--workers", type=int, required=True, help="n, the number of workers")
    parser.add_argument("--family", required=True, help="assignment family (see `agc info`)")
    parser.add_argument("--encoding", required=True, help="encoding (see `agc info`)")
    parser.add_argument("--ell", type=int, required=True, help="communication reduction ell")
    parser.add_argument("-P", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a family or encoding parameter; n and k default to --workers")
    # --stragglers is the spelling to use under torchrun, whose parser reads --s as an abbreviation of its own options
    parser.add_argument("--s", "--stragglers", type=int, default=0, dest="s",
                        help="s, the number of stragglers: the PS keeps the first n - s messages")
    parser.add_argument("--delay", default="none", help="model:key=value,... one of " + ", ".join(DELAY_MODELS))
    parser.add_argument("--deadline", type=float, help="seconds: keep every message in by then instead")
    parser.add_argument("--decoder", help="optimal (default), unbiased or rescaled")
    parser.add_argument("--exits", help="worker@iteration,...: workers that really exit at that iteration")
    parser.add_argument("--iters", type=int, default=50, help="iterations (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model, data split and delays")
    parser.add_argument("--lr", type=float, help="SGD learning rate (default 0.5)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units of the MLP")
    parser.add_argument("--dataset", default="digits", help="digits or mnist (local files)")
    parser.add_argument("--no-preempt", action="store_true", help="let slow workers finish; late messages are dropped")
    parser.add_argument("--check", action="store_true", help="also record the decoding error against the exact gradient")
    parser.add_argument("--worker-timeout", type=float, default=30.0, help="seconds of silence before a worker is presumed dead")
    parser.add_argument("--out", help="results JSON, written atomically")
    return parser
