"""Construction time of RHPNC (both variants) and RDM on the paper's two assignments.

The random bi-regular assignment with 40 workers, 20 chunks, load 3 (replication 6) and the
projective plane PG(2,9) (91 workers and chunks, load 10), with ell = 2. Every variant starts
from a full-support v_1, and on PG(2,9) (rank(A) = n) no non-zero v_2 then exists: the table says
so instead of a time (the RHPNC codes that do exist there have disjoint supports, i.e. they are
block splits, ``agc.encodings.block_split``). Target: the ±1 variant (an integer program) under
5 s on the bi-regular graph.

Prints a markdown table; records nothing. Run: ``.venv/bin/python benchmarks/rhpnc_timing.py``
"""

from __future__ import annotations

import time

import numpy as np
from _results import machine, record
from threadpoolctl import threadpool_limits

import agc

ELL = 2
SEEDS = range(5)


def timed(make):
    """Table cells for ``make(seed)`` over ``SEEDS``: median and maximum seconds, and the normalised
    optimal error with no straggler (0 = exact); or why the construction does not exist.
    """
    times = []
    for seed in SEEDS:
        start = time.perf_counter()
        try:
            code = make(seed)
        except ValueError as error:
            return ["does not exist", "", str(error).split(": ")[1]]  # the reason, after the caller's name
        times.append(time.perf_counter() - start)
    error = agc.optimal_error(code, np.arange(code.n), normalized=True)
    return [f"{np.median(times):.4f}", f"{max(times):.4f}", f"{error:.2g}"]


def main():
    assignments = {
        "random bi-regular (40, 20, load 3)": agc.assignments.random_biregular(40, 20, 3, seed=0),
        "PG(2,9) (91, 91, load 10)": agc.assignments.projective_plane(9),
    }
    constructions = {
        "rdm (rademacher)": lambda A, seed: agc.encodings.rdm(A, ELL, seed=seed),
        "rhpnc gaussian": lambda A, seed: agc.encodings.rhpnc(A, ELL, seed=seed),
        "rhpnc authors (last singular vector)": lambda A, seed: agc.encodings.rhpnc(A, ELL, seed=seed,
                                                                                  variant="authors"),
        "rhpnc pm1 (MILP)": lambda A, seed: agc.encodings.rhpnc(A, ELL, seed=seed, variant="pm1"),
    }
    lines = []
    for label, A in assignments.items():
        for name, make in constructions.items():
            lines.append("| " + " | ".join([label, name, *timed(lambda seed: make(A, seed))]) + " |")
    table = "\n".join(lines)
    text = f"""## Encodings (`benchmarks/rhpnc_timing.py`)

Construction time, ell = {ELL}, {len(SEEDS)} seeds; target: `rhpnc(..., variant="pm1")` on the
40 × 20 bi-regular graph in under 5 s. Machine: {machine()}; one BLAS thread.
Command: `.venv/bin/python benchmarks/rhpnc_timing.py`.

| assignment | construction | median (s) | max (s) | err*/kℓ, no straggler (last seed) |
|---|---|---|---|---|
{table}
"""
    print(text)
    record("encodings", text)


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
