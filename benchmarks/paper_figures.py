"""Time each paper figure's computation, per instance: every scheme and bound of ``book/paper_figures.ipynb``.

The paper's three instances with ell = 2 — PG(2,9), the random bi-regular graph with 40 workers,
20 chunks and load 3 (``random_biregular(40, 20, 3, seed=0)``) and SRG(126, 25, 8, 4) — on the
authors' straggler grid (the distinct integers of ``np.linspace(0, 0.25 * n, 16, dtype=int)``),
1000 uniform straggler sets per point and draw, in two configurations:

* ``paper``: 100 coefficient draws of **every** random scheme (RDM, both Gaussian and both ±1
  RHPNC variants, i.i.d. Gaussian coefficients), and the maximum of the diagonal-dominance bound
  over the straggler sets of 100 codes of each of the authors' two RHPNC variants;
* ``chapter``: the draws of the chapter's ``parameters`` cell, read from the notebook.

Stacking and the block split are one deterministic code each; the block split is built with the
chapter's ``time_limit=0.5`` per step of its coverage search. The times are wall-clock seconds of
the computation (codes, curves, bounds; the same calls as the chapter), not of drawing the figure;
one BLAS thread, as in the chapter. The chapter's own time under nbval is measured separately
(its command is in the section). Writes the ``paper_figures`` section of ``benchmarks/RESULTS.md``.

Run: ``nice .venv/bin/python benchmarks/paper_figures.py`` (a few minutes: the ``paper``
configuration evaluates 100 ill-conditioned Gaussian RHPNC codes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _results import machine, record
from threadpoolctl import threadpool_limits

import agc
from agc.bounds import diagonal_dominance_bounds, rdm_expected_error_bound, rdm_srg_bound, stacking_bibd_error

ELL = 2
TRIALS = 1000
SEED = 0
CHAPTER = Path(__file__).resolve().parents[1] / "book" / "paper_figures.ipynb"
PAPER = {"draws": 100, "gaussian_draws": 100, "extra_draws": 100, "bound_draws": 100}


def chapter_parameters():
    """The chapter's ``parameters`` cell, executed: name -> value."""
    cells = json.loads(CHAPTER.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    values = {}
    exec(source, {}, values)  # the chapter's own assignments (ell = 2, trials = 1000, draws = ...)
    return values


def instances():
    """The instances: name -> (assignment, the strongly regular graph or None)."""
    graph = agc.assignments.srg("johnson_fusion_126")
    return {
        "PG(2,9)": (agc.assignments.projective_plane(9), None),
        "bi-regular 40 x 20, load 3": (agc.assignments.random_biregular(40, 20, 3, seed=SEED), None),
        "SRG(126,25,8,4)": (agc.assignments.graph_adjacency(graph), graph),
    }


def chapter_seconds():
    """Wall-clock seconds of the chapter under nbval (the book's test command), and whether it passed."""
    root = CHAPTER.parents[1]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(CHAPTER)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                            text=True, check=False)
    return time.perf_counter() - start, result.returncode == 0


def schemes(A, split, counts):
    """The chapter's schemes on ``A`` (:func:`agc.registry.paper_schemes`): name -> (Code or construction, draws)."""
    return agc.registry.paper_schemes(A, ELL, split, draws=counts["draws"], gaussian_draws=counts["gaussian_draws"],
                                      extra_draws=counts["extra_draws"])


def bounds(A, graph, grid, table, counts):
    """Every bound the chapter draws on ``A`` (the values are discarded; only the time counts)."""
    n, k = A.shape
    load, replication = int(A[0].sum()), int(A[:, 0].sum())
    design = graph is None and n == k  # PG(2,9): the paper's RDM bound and stacking's closed form
    for s in grid:
        agc.worst_case_lower_bound(n, k, load, ELL, s, replication=replication, form="paper")
        if design:
            rdm_expected_error_bound(A, ELL, s)
            stacking_bibd_error(A, ELL, s)
        if graph is not None:
            rdm_srg_bound(graph, ELL, s, over="average")
            rdm_srg_bound(graph, ELL, s, over="worst")
    for scheme in ("rhpnc_authors", "rhpnc_pm1_authors"):
        if scheme in table:
            codes = [table[scheme][0](SEED + d) for d in range(counts["bound_draws"])]
            for s in grid:
                for d, code in enumerate(codes):
                    diagonal_dominance_bounds(code, agc.failures.fixed_masks(n, s, TRIALS, seed=SEED + d)).max()


def time_instance(A, graph, counts):
    """Seconds per part (block split, each scheme's curve, bounds) for one instance."""
    grid = sorted({int(s) for s in np.linspace(0, 0.25 * A.shape[0], 16, dtype=int)})
    seconds = {}
    start = time.perf_counter()
    split = agc.encodings.block_split(A, ELL, time_limit=0.5)
    seconds["block split (construction)"] = time.perf_counter() - start
    table = schemes(A, split, counts)
    for name, (construction, draws) in table.items():
        start = time.perf_counter()
        agc.error_curve(construction, s=grid, trials=TRIALS, draws=draws, seed=SEED)
        seconds[f"{name} ({draws} x {TRIALS})"] = time.perf_counter() - start
    start = time.perf_counter()
    bounds(A, graph, grid, table, counts)
    seconds["bounds"] = time.perf_counter() - start
    return grid, seconds


def main():
    chapter = chapter_parameters()
    assert chapter["ell"] == ELL and chapter["trials"] == TRIALS and chapter["seed"] == SEED, chapter
    configurations = {"chapter": {key: chapter[key] for key in PAPER}, "paper": PAPER}
    rows, totals = [], []
    for label, (A, graph) in instances().items():
        for configuration, counts in configurations.items():
            grid, seconds = time_instance(A, graph, counts)
            total = sum(seconds.values())
            print(f"{label}, {configuration}: {total:.1f} s", {k: round(v, 2) for k, v in seconds.items()}, flush=True)
            totals.append(f"| {label} | {len(grid)} | {configuration} | {total:.1f} |")
            rows += [f"| {label} | {configuration} | {part} | {value:.2f} |" for part, value in seconds.items()]
    draws = ", ".join(f"`{key} = {value}`" for key, value in configurations["chapter"].items())
    seconds, passed = chapter_seconds()
    print(f"chapter under nbval: {seconds:.1f} s, {'passed' if passed else 'FAILED'}")
    text = f"""## Paper figures per instance (`benchmarks/paper_figures.py`)

Computation of each paper figure of `book/paper_figures.ipynb` (codes, curves and bounds; not the drawing),
ell = {ELL}, the authors' grid (distinct counts), {TRIALS} straggler sets per point and draw, wall-clock seconds on a
shared machine (other jobs running: compare rows of one run, not runs). `paper`: 100 draws of every random scheme
and 100 codes for the maximum dominance bound. `chapter`: the chapter's parameters ({draws}).
Machine: {machine()}; one BLAS thread. Command: `nice .venv/bin/python benchmarks/paper_figures.py`.
The whole chapter under nbval (`python -m pytest -q -p no:cacheprovider --nbval-lax book/paper_figures.ipynb`,
kernel start, every cell and figure), in the same run: {seconds:.0f} s ({"passed" if passed else "FAILED"}).

| instance | points | configuration | seconds |
|---|---|---|---|
{chr(10).join(totals)}

| instance | configuration | part | seconds |
|---|---|---|---|
{chr(10).join(rows)}
"""
    print(text)
    record("paper_figures", text)


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
