"""agc: communication-efficient approximate gradient coding.

A companion to Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*
(arXiv 2603.22514, 2026). Notation (the book's chapter *Notation and model*): ``n`` workers,
``k`` chunks, each worker sends ``⌈d/ℓ⌉`` numbers; ``B`` is ``n × kℓ`` with rows = workers (the
paper writes the transpose).

``import agc`` needs only NumPy, SciPy, networkx, galois, pandas and tqdm. The submodules that
need more are imported on first use: :mod:`agc.training` and :mod:`agc.runtime` (torch, the
``train`` extra), :mod:`agc.data` (torch and scikit-learn), :mod:`agc.sweep` (papermill, the
``book`` extra), :mod:`agc.plotting` (seaborn, the ``book`` extra) and :mod:`agc.record`.
"""

import importlib

from agc import assignments, bounds, encodings, failures, registry, schemes, stats
from agc.bounds import rank_lower_bound, worst_case_lower_bound
from agc.code import Code
from agc.decoding import decoding_error, fixed_decoder, optimal_decoder, unbiased_decoder
from agc.engine import (
    Estimate,
    WorstCase,
    error_curve,
    expected_error,
    optimal_error,
    optimal_errors,
    worst_case,
)
from agc.registry import make_code

__version__ = "0.1.0"

#: Submodules imported on first attribute access (``agc.training``), so that ``import agc`` stays light.
_LAZY = ("cli", "data", "plotting", "record", "runtime", "sweep", "training")

__all__ = [
    "Code",
    "Estimate",
    "WorstCase",
    "assignments",
    "bounds",
    "decoding_error",
    "encodings",
    "error_curve",
    "expected_error",
    "failures",
    "fixed_decoder",
    "make_code",
    "optimal_decoder",
    "optimal_error",
    "optimal_errors",
    "rank_lower_bound",
    "registry",
    "schemes",
    "stats",
    "unbiased_decoder",
    "worst_case",
    "worst_case_lower_bound",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"agc.{name}")
    raise AttributeError(f"module 'agc' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
