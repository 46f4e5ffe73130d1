"""The ``agc`` command: ``agc info``, ``agc error``, ``agc train``, ``agc sweep``, ``agc run``.

Bad arguments get one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import agc
from agc._io import check_writable, write_csv, write_json
from agc._parse import parse_key_values


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message):
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _numbers(text, option, cast):
    try:
        return [cast(x) for x in text.split(",") if x != ""]
    except ValueError:
        raise ValueError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _code_arguments(parser):
    parser.add_argument("--family", required=True, help="assignment family (see `agc info`)")
    parser.add_argument("--encoding", required=True, help="encoding (see `agc info`)")
    parser.add_argument("--ell", type=int, required=True, help="communication reduction ell")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("-P", "--param", action="append", metavar="NAME=VALUE",
                        help="a family or encoding parameter, e.g. -P q=9 (repeatable)")


def _make_code(args):
    return agc.make_code(args.family, args.encoding, args.ell, seed=args.seed, **parse_key_values(args.param))


def _cmd_info(args):
    print(f"agc {agc.__version__}")
    print("\n".join(agc.registry.describe()))
    return 0


def _cmd_error(args):
    if args.draws < 1:
        raise ValueError(f"--draws must be >= 1, got {args.draws}")
    if args.trials < 2:
        raise ValueError(f"--trials must be >= 2, got {args.trials}")
    if args.out is not None:
        check_writable(args.out, suffixes=(".csv", ".json"), name="--out")
    if (args.p is None) == (args.s is None):
        raise ValueError("give exactly one of --p or --s")
    grid = {"p": _numbers(args.p, "--p", float)} if args.p is not None else {"s": _numbers(args.s, "--s", int)}
    if not next(iter(grid.values())):
        raise ValueError(f"--{next(iter(grid))} expects at least one number")
    params = parse_key_values(args.param)
    if args.draws > 1 and not agc.registry.is_random(args.encoding):
        raise ValueError(f"--draws {args.draws}: encoding {args.encoding!r} is deterministic; use --draws 1")
    draw = agc.registry.construction(args.family, args.encoding, args.ell, seed=args.seed, **params)
    code = draw(args.seed) if args.draws == 1 else draw
    curve = agc.error_curve(code, trials=args.trials, draws=args.draws, seed=args.seed, normalized=True,
                            progress=True, **grid)
    sample = draw(args.seed) if args.draws > 1 else code
    curve = curve.assign(n=sample.n, k=sample.k, ell=sample.ell)
    if args.out is None:
        sys.stdout.write(curve.to_csv(index=False))
    elif str(args.out).endswith(".csv"):
        write_csv(args.out, curve)
    else:
        write_json(args.out, curve.to_dict(orient="records"), indent=2)
    return 0


def _dataset_options(args):
    """The loader options of ``--dataset``, ``--data-dir``, ``--train-size`` and ``--test-size`` (images only).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If an image-only option is given for digits.
    """
    from agc.data import auto_dataset

    name = auto_dataset() if args.dataset == "auto" else args.dataset
    if name == "digits":
        if args.data_dir is not None or args.train_size is not None or args.test_size is not None:
            raise ValueError("--data-dir, --train-size and --test-size apply to mnist and fashion-mnist, not to digits")
        return {}
    options = {"train_size": args.train_size, "test_size": args.test_size}
    if args.data_dir is not None:
        options["path"] = args.data_dir
    return options


def _cmd_train(args):
    from agc import schemes, training
    from agc.data import load_dataset

    if args.lr is not None:  # before anything is built or loaded
        training.check_learning_rate(args.lr, name="--lr")
    if args.out is not None:
        check_writable(args.out, suffixes=(".json",), name="--out")
    if args.scheme == "coded":
        if args.family is None or args.encoding is None or args.ell is None:
            raise ValueError("--scheme coded needs --family, --encoding and --ell")
        scheme = schemes.coded(_make_code(args), decoder=args.decoder or "optimal")
    elif args.scheme == "ignore":
        if args.workers is None:
            raise ValueError("--scheme ignore needs --workers")
        scheme = schemes.ignore_stragglers(args.workers)
    else:
        scheme = schemes.full_gradient()
    options = {"failures": args.failures, "p": args.p, "burst": args.burst, "optimizer": args.optimizer, "lr": args.lr,
               "lr_schedule": args.lr_schedule, "batch_size": args.batch_size, "iters": args.iters,
               "eval_every": args.eval_every, "seed": args.seed}
    training.check_train_arguments(scheme, **options)  # before the dataset is loaded
    dataset = load_dataset(args.dataset, **_dataset_options(args))
    result = training.train(scheme, dataset, s=args.s, progress=True, **options)
    final_accuracy = result.test_accuracy[-1] if result.test_accuracy else float("nan")
    print(f"{scheme.name} on {dataset.name} (lr {result.config['lr']}): final training loss {result.loss[-1]:.4f}, "
          f"test accuracy {final_accuracy:.3f}")
    if args.out is not None:
        training.save_results(result, args.out)
    return 0


def _cmd_run(args):
    from agc.runtime.launch import run_command

    return run_command(args)


def _cmd_sweep(args):
    from agc.sweep import SweepError, grid_points, parse_grid, sweep

    grid = parse_grid(args.grid or [])
    pairs = list(args.param or [])
    if args.old_param:
        print("agc: warning: -p NAME VALUE is deprecated; use -P NAME=VALUE", file=sys.stderr)
        pairs += [f"{name}={value}" for name, value in args.old_param]
    params = parse_key_values(pairs)
    try:
        table = sweep(args.chapter, grid, params, out_dir=args.out_dir, force=args.force)
    except SweepError as exc:
        print(f"agc: sweep: {exc}", file=sys.stderr)
        return 1
    where = Path(args.out_dir) / Path(args.chapter).stem / "records.csv"
    print(f"{len(table)} records from {len(grid_points(grid))} point(s) -> {where}")
    return 0


def build_parser():
    """The ``agc`` argument parser (every subcommand).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(prog="agc", description="Communication-efficient approximate gradient coding.")
    parser.add_argument("--version", action="version", version=f"agc {agc.__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    info = commands.add_parser("info", help="list assignment families and encodings with their parameters")
    info.set_defaults(run=_cmd_info)

    error = commands.add_parser("error", help="normalised optimal error versus p or s (mean ± s.e.)")
    _code_arguments(error)
    error.add_argument("--p", help="comma-separated failure probabilities (Bernoulli model)")
    error.add_argument("--s", "--stragglers", dest="s", help="comma-separated straggler counts (uniform fixed-s model)")
    error.add_argument("--trials", type=int, default=1000, help="straggler sets per draw and point (default 1000)")
    error.add_argument("--draws", type=int, default=1,
                       help="coefficient draws of a random encoding, each with --trials fresh straggler sets; "
                            "the mean is over draws and sets, the s.e. over the draws' means (default 1)")
    error.add_argument("--out", help="output file, .csv or .json (default: CSV on stdout)")
    error.set_defaults(run=_cmd_error)

    train = commands.add_parser("train", help="train the MLP with coded gradients under a failure model")
    train.add_argument("--dataset", default="digits", choices=["digits", "mnist", "fashion-mnist", "auto"],
                       help="digits (bundled, default), fashion-mnist (Debian's dataset-fashion-mnist), mnist "
                            "(local files) or auto (mnist if $AGC_MNIST_DIR is set, else fashion-mnist, else digits)")
    train.add_argument("--data-dir", "--mnist-dir", dest="data_dir",
                       help="directory with the IDX files (mnist: else $AGC_MNIST_DIR; fashion-mnist: else "
                            "/usr/share/datasets/fashion-mnist)")
    train.add_argument("--train-size", type=int, help="a seeded subset of this many training images (images only)")
    train.add_argument("--test-size", type=int, help="a seeded subset of this many test images (images only)")
    train.add_argument("--scheme", choices=["coded", "full", "ignore"], default="coded",
                       help="coded (needs --family/--encoding/--ell), full gradient, or ignore stragglers")
    train.add_argument("--family", help="assignment family (see `agc info`)")
    train.add_argument("--encoding", help="encoding (see `agc info`)")
    train.add_argument("--ell", type=int, help="communication reduction ell")
    train.add_argument("-P", "--param", action="append", metavar="NAME=VALUE", help="a family or encoding parameter")
    train.add_argument("--workers", type=int, help="workers (= chunks) for --scheme ignore")
    train.add_argument("--decoder", choices=["optimal", "unbiased", "rescaled"], help="decoder (default optimal)")
    train.add_argument("--failures", default="bernoulli", help="bernoulli, markov (bursts), fixed, adversarial or none")
    train.add_argument("--p", type=float, default=0.2,
                       help="failure probability (bernoulli) or stationary failure rate (markov); default 0.2")
    train.add_argument("--burst", type=float, help="mean burst length in iterations, >= 1 (markov)")
    train.add_argument("--s", "--stragglers", dest="s", type=int, help="stragglers (fixed, adversarial)")
    train.add_argument("--optimizer", default="sgd", help="sgd or adam")
    train.add_argument("--lr", type=float, help="learning rate, positive and finite (default: the package's rate for "
                                                "the optimizer, the dataset and the batching, agc.training.default_lr)")
    train.add_argument("--lr-schedule", default="constant", help="constant or inverse_sqrt (lr / sqrt(t + 1))")
    train.add_argument("--batch-size", type=int,
                       help="a fresh seeded mini-batch of this many samples every iteration (default: full batch)")
    train.add_argument("--iters", type=int, default=300, help="iterations (default 300)")
    train.add_argument("--eval-every", type=int, default=10,
                       help="test accuracy (and, for mini-batches, training loss) every this many steps (default 10)")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.add_argument("--out", help="results JSON, written atomically")
    train.set_defaults(run=_cmd_train)

    run = commands.add_parser("run", help="a real parameter server and workers as processes on this machine (gloo)")
    from agc.runtime.options import add_run_arguments

    add_run_arguments(run).set_defaults(run=_cmd_run)

    sweep = commands.add_parser("sweep", help="run a chapter over a parameter grid with papermill; collect its records")
    sweep.add_argument("chapter", help="chapter name in book/ (e.g. paper_figures) or a notebook path")
    sweep.add_argument("--grid", action="append", metavar="NAME=V1,V2", help="a swept parameter (repeatable)")
    sweep.add_argument("-P", "--param", action="append", metavar="NAME=VALUE", help="a fixed parameter (repeatable)")
    sweep.add_argument("-p", nargs=2, action="append", dest="old_param", metavar=("NAME", "VALUE"),
                       help=argparse.SUPPRESS)  # deprecated spelling of -P NAME=VALUE
    sweep.add_argument("--out-dir", default="_build/sweeps", help="where points and records.csv go (default _build/sweeps)")
    sweep.add_argument("--force", action="store_true", help="rerun finished points (after editing the chapter)")
    sweep.set_defaults(run=_cmd_sweep)
    return parser


def main(argv=None):
    """Entry point of the ``agc`` console script; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad arguments (one line on stderr), 1 for a run that failed.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.run(args)
    except (_UsageError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"agc: error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, OSError) as exc:  # a run that failed (the PS died, a disk filled up)
        print(f"agc: failed: {exc}".splitlines()[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
