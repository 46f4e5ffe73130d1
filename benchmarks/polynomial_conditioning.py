"""How exact the polynomial code is in floating point, against n, ell and s.

For each code ``agc.encodings.polynomial(cyclic(n, n, s + ell), ell, max_error=None)`` and each
of its ``n`` straggler sets of ``s`` workers with adjacent nodes (among them the worst sets; see
``tests/test_exact.py``):

* ``kappa``: the worst amplification of relative rounding errors, ``max (|D_S| |B_S|)``
  (``agc.encodings.exact.amplification``), and the first-order float64 error estimate ``2^-53 kappa``
  (of the interpolation decoder, which it matches within a factor of about 4 on these sets);
* ``err*``: the measured normalised decoding error ``||D B_S - T||_F^2 / (k ell)`` of the float64
  least-squares decoder ``agc.optimal_decoder`` (what the engine and the runtime use);
* ``float32``: the measured relative error of the decoded gradient when random per-chunk gradients
  are encoded in float64, the messages rounded to float32 and decoded in float64 (as the runtime
  does), with the bound ``2^-24 kappa``;
* ``kappa, monotone``: the same code with the nodes in monotone order (worker ``j`` at node ``j``,
  as before this construction spread them), for comparison.

Run: ``.venv/bin/python benchmarks/polynomial_conditioning.py``
"""

from __future__ import annotations

import time

import numpy as np
from _results import machine, record
from threadpoolctl import threadpool_limits

import agc
from agc.code import split_blocks
from agc.encodings import exact

NS = (20, 40, 60, 80, 100, 150, 200)
ELLS = (1, 2, 3)
SS = (2, 4, 6, 8, 10)
D = 64  # gradient length per block


def measure(n, s, ell, rng):
    load = s + ell
    code = agc.encodings.polynomial(agc.assignments.cyclic(n, n, load), ell, max_error=None)
    index = np.arange(n) * code.params["stride"] % n
    masks = exact._worst_sets(index, s)
    blocks = split_blocks(rng.standard_normal((n, D * ell)), ell)
    messages32 = (code.B @ blocks).astype(np.float32).astype(np.float64)
    truth = code.target @ blocks
    errors, relative = [], []
    for mask in masks:
        decoder = agc.optimal_decoder(code, mask)
        errors.append(np.sum((decoder @ code.B[mask] - code.target) ** 2) / (n * ell))
        relative.append(np.linalg.norm(decoder @ messages32[mask] - truth) / np.linalg.norm(truth))
    monotone = np.arange(n)
    B_monotone = exact._encoding(n, load, ell, monotone)
    kappa_monotone = max(exact._amplification(B_monotone, ell, monotone, m) for m in exact._worst_sets(monotone, s))
    return code.params["amplification"], max(errors), max(relative), kappa_monotone


def main():
    rng = np.random.default_rng(0)
    rows = []
    start = time.perf_counter()
    for ell in ELLS:
        for s in SS:
            for n in NS:
                if n < 2 * (s + ell):
                    continue
                kappa, err, rel32, kappa_monotone = measure(n, s, ell, rng)
                rows.append((ell, s, n, kappa, err, rel32, kappa_monotone))
                print(f"ell={ell} s={s:2d} n={n:3d}: kappa {kappa:.1e} (bound {kappa * 2.0**-53:.0e}) err* {err:.0e} "
                      f"float32 {rel32:.0e} (bound {kappa * 2.0**-24:.0e}); monotone kappa {kappa_monotone:.0e}", flush=True)
    seconds = time.perf_counter() - start
    table = "\n".join(f"| {ell} | {s} | {n} | {k:.1e} | {k * 2.0**-53:.0e} | {e:.0e} | {r:.0e} | {k * 2.0**-24:.0e} | {km:.0e} |"
                      for ell, s, n, k, e, r, km in rows)
    record("polynomial_conditioning", f"""## Polynomial code in floating point (`benchmarks/polynomial_conditioning.py`)

`agc.encodings.polynomial(cyclic(n, n, s + ell), ell)`, worst over the n straggler sets of s workers
with adjacent nodes (the worst sets, checked exhaustively at small n in `tests/test_exact.py`).
kappa: worst amplification of relative rounding errors, max(|D_S||B_S|); float64 estimate 2^-53 kappa (first
order, for the interpolation decoder); err*: measured ||D B_S - T||_F^2 / (k ell) of the float64 least-squares
decoder `agc.optimal_decoder`, whose relative residual sqrt(err*) can exceed the estimate up to a thousandfold on
these sets (B_S is ill conditioned there); float32: measured relative
error of the decoded gradient with float32 messages ({D * 1} numbers per block, Gaussian gradients), bound
2^-24 kappa (first order, componentwise); monotone: kappa with worker j at node j (the node order used before).
`polynomial` refuses codes whose float64 estimate exceeds `max_error = 1e-9` (kappa > 9e6) unless `max_error=None`.
Machine: {machine()}; one BLAS thread; {seconds:.0f} s. Command: `.venv/bin/python benchmarks/polynomial_conditioning.py`.

| ell | s | n | kappa | float64 estimate | err* (float64) | float32 rel. error | float32 bound | kappa, monotone |
|---|---|---|---|---|---|---|---|---|
{table}
""")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
