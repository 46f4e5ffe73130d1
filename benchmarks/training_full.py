"""The training chapter on all 60 000 images: run it through the sweep once, time it, record its numbers.

Runs ``book/training.ipynb`` with papermill (:func:`agc.sweep.sweep`, what
``agc sweep training -P train_size=none -P test_size=none -P iters=3000 -P eval_every=150``
does) on the whole training and test sets with ten times the chapter's default iterations, and
writes its measured wall and CPU time and the numbers it recorded (the runs' ends per scheme
and failure probability, mean ± s.e. over seeds; the paired comparisons with the block split;
the convergence checks) to the section ``training_full`` of ``benchmarks/RESULTS.md``. The
chapter asserts its claims in this run too: a claim that failed would fail the sweep, and no
section is written.

Run (it takes tens of minutes; nice it on a shared machine):
``nice .venv/bin/python benchmarks/training_full.py [--out-dir DIR] [--force]``; a rerun reuses the
sweep's finished point and its recorded time unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from _results import machine, record

from agc.data import auto_dataset
from agc.plotting import SCHEME_LABELS
from agc.sweep import sweep

PARAMETERS = {"train_size": None, "test_size": None, "iters": 3000, "eval_every": 150}
SCHEMES = ["full", "ignore", "stacking", "block_split", "block_split_copies", "rdm", "rhpnc", "rhpnc_unbiased", "polynomial"]


def cpu_seconds():
    """CPU time of this process and its finished children (the kernel), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def value(table, name, column="value", **labels):
    """The ``column`` of the one record ``name`` with these labels."""
    rows = table[table["name"] == name]
    for key, wanted in labels.items():
        rows = rows[np.isclose(rows[key], wanted)] if isinstance(wanted, float) else rows[rows[key] == wanted]
    if len(rows) != 1:
        raise ValueError(f"expected one record {name} {labels}, found {len(rows)}")
    return float(rows[column].iloc[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="_build/sweeps-full", help="where the sweep writes its point")
    parser.add_argument("--force", action="store_true",
                        help="run the chapter again even if the sweep has its finished point (after editing it)")
    args = parser.parse_args()
    dataset = auto_dataset()
    timing = Path(args.out_dir) / "training" / "timing.json"
    start, cpu = time.perf_counter(), cpu_seconds()
    table = sweep("training", {}, dict(PARAMETERS), out_dir=args.out_dir, force=args.force)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if wall > 60 or not timing.is_file():  # the chapter ran now (a finished point is reused in seconds)
        timing.write_text(json.dumps({"wall": wall, "cpu": cpu}))
    wall, cpu = (json.loads(timing.read_text())[key] for key in ("wall", "cpu"))
    ps = sorted(float(p) for p in table.loc[table["name"] == "train_loss_last_third", "p"].unique())

    def cell(name, p, scheme, digits):
        mean = value(table, name, p=p, scheme=scheme, statistic="mean")
        se = value(table, name, p=p, scheme=scheme, statistic="se")
        return f"{mean:.{digits}f} ± {se:.{digits}f}"

    rows = []
    for p in ps:
        for scheme in SCHEMES:
            comparison = ""
            if scheme in ("ignore", "rdm", "rhpnc", "rhpnc_unbiased"):
                difference = value(table, "loss_vs_block_split", p=p, scheme=scheme)
                half = value(table, "loss_vs_block_split", "half_width", p=p, scheme=scheme)
                comparison = f"{difference:+.4f} ± {half:.4f}"
            rows.append(f"| {p:g} | {SCHEME_LABELS[scheme]} | {cell('train_loss_last_third', p, scheme, 4)} | "
                        f"{cell('test_accuracy_last_third', p, scheme, 4)} | "
                        f"{cell('final_train_loss', p, scheme, 4)} | {cell('decoding_error', p, scheme, 3)} | "
                        f"{comparison} |")
    slopes = {scheme: value(table, "decaying_step_slope", scheme=scheme) for scheme in ("full", "rhpnc_unbiased")}
    gap = value(table, "constant_step_gap_last_tenth")
    record("training_full", f"""## Training on all 60 000 images (`benchmarks/training_full.py`)

The chapter *Training with coded gradients* (`book/training.ipynb`) run once through the sweep
with the parameters {', '.join(f'`{k}={v}`' for k, v in PARAMETERS.items())} (every other
parameter at its default: 784-128-10, SGD with the package's mini-batch step, mini-batches of
256, n = 40 workers, k = 20 chunks, load 3, ell = 2, three seeds), that is
`agc sweep training -P train_size=none -P test_size=none -P iters=3000 -P eval_every=150`.
Dataset: {dataset} (all training images; the whole test set). Every assertion of the chapter held
in this run (else the sweep fails and this section is not written).

Measured: **{wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU** (kernel included) for the whole
chapter; machine: {machine()}, one torch thread, shared with other work.

Per failure probability and scheme: the end of each run, the mean over its last third (of the
mini-batch training losses, and of the test accuracies measured there), mean ± s.e. over the
seeds; the whole-set training loss of the last iterate; the mean relative decoding error
‖ĝ − g‖²/‖g‖²; and, for the codes compared with the fair baseline, the seed-paired difference
of the loss from the block split's with its 95 % Student-t half-width.

| p | scheme | loss, last third | test accuracy, last third | whole-set loss at the end | decoding error | loss minus block split's |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Convergence section (full batch on a 1000-image subset, as in the default run): with the constant
step, unbiased RHPNC's ‖∇L‖² over exact gradient descent's in the last tenth of the run, mean over
seeds: {gap:.2f}; with the decaying step, log-log slope of min ‖∇L‖² over the second half:
{slopes['full']:.2f} (exact gradient descent), {slopes['rhpnc_unbiased']:.2f} (unbiased RHPNC).
Command: `nice .venv/bin/python benchmarks/training_full.py`.
""")
    print(f"training chapter on all images: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")


if __name__ == "__main__":
    main()
