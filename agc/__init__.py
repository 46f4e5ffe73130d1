"""agc: communication-efficient approximate gradient coding.

A companion to Munim and Ramamoorthy, *Communication-Efficient Approximate Gradient Coding*
(arXiv 2603.22514, 2026). See DESIGN.md for the notation: ``n`` workers, ``k`` chunks, each
worker sends ``⌈d/ℓ⌉`` numbers; ``B`` is ``n × kℓ`` with rows = workers.
"""

from agc import assignments, bounds, encodings, failures, registry
from agc.bounds import rank_lower_bound, worst_case_lower_bound
from agc.code import Code
from agc.decoding import decoding_error, fixed_decoder, optimal_decoder, unbiased_decoder
from agc.registry import make_code
from agc.engine import (
    Estimate,
    WorstCase,
    error_curve,
    expected_error,
    optimal_error,
    optimal_errors,
    worst_case,
)

__version__ = "0.1.0"

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
    "unbiased_decoder",
    "worst_case",
    "worst_case_lower_bound",
]
