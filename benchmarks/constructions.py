"""Time the assignment constructions: PG(2, q) and every named SRG.

Each construction runs in this fresh process, so the first call for a field includes building
its tables with galois. Prints a markdown table (name, parameters, seconds); the target is
under 2 s per construction.

    python benchmarks/constructions.py
"""

import importlib
import time

from _results import machine, record

PLANE_ORDERS = [2, 3, 4, 5, 7, 8, 9, 11, 13, 16]
SRG_PARAMETERS = {"paley": {"q": 13}, "triangular": {"m": 6}, "lattice": {"m": 4}}


def timed(build):
    start = time.perf_counter()
    result = build()
    return result, time.perf_counter() - start


def main():
    assignments, import_seconds = timed(lambda: importlib.import_module("agc.assignments"))
    rows = []
    for q in PLANE_ORDERS:
        A, seconds = timed(lambda: assignments.projective_plane(q))
        rows.append((f"projective_plane({q})", f"BIBD {tuple(assignments.bibd_parameters(A))}", seconds))
    for name in assignments.SRG_FAMILIES:
        params = SRG_PARAMETERS.get(name, {})
        G, seconds = timed(lambda: assignments.srg(name, **params))
        arguments = "".join(f", {key}={value}" for key, value in params.items())
        rows.append((f"srg({name!r}{arguments})", f"SRG {tuple(assignments.srg_parameters(G))}", seconds))
    slowest = max(rows, key=lambda row: row[2])
    table = "\n".join(f"| `{name}` | {parameters} | {seconds:.4f} |" for name, parameters, seconds in rows)
    text = f"""## Constructions (`benchmarks/constructions.py`)

Target: PG(2,q) for q <= 16 and every SRG in under 2 s each. Machine: {machine()}.
`import agc.assignments` (numpy, networkx, galois) took {import_seconds:.2f} s, not counted below.
Command: `.venv/bin/python benchmarks/constructions.py`.

| construction | parameters (v, b, r, k, λ) / (v, κ, λ, μ) | seconds |
|---|---|---:|
{table}

Slowest: {slowest[0]} in {slowest[2]:.4f} s.
"""
    print(text)
    record("constructions", text)


if __name__ == "__main__":
    main()
