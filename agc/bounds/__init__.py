"""Bounds on the approximation error (book: *Lower bounds* and the chapters on each construction)."""

from agc.bounds.lower import (
    rank_lower_bound,
    rank_lower_bounds,
    unbiased_expected_error,
    worst_case_lower_bound,
)
from agc.bounds.upper import (
    diagonal_dominance_bound,
    diagonal_dominance_bounds,
    rdm_average_bound,
    rdm_bibd_error,
    rdm_bibd_expected_error,
    rdm_expected_error_bound,
    rdm_pattern_bound,
    rdm_pattern_bounds,
    rdm_srg_bound,
    stacking_bibd_error,
)

__all__ = ["rank_lower_bound", "rank_lower_bounds", "unbiased_expected_error", "worst_case_lower_bound"]
__all__ += [
    "diagonal_dominance_bound",
    "diagonal_dominance_bounds",
    "rdm_average_bound",
    "rdm_bibd_error",
    "rdm_bibd_expected_error",
    "rdm_expected_error_bound",
    "rdm_pattern_bound",
    "rdm_pattern_bounds",
    "rdm_srg_bound",
    "stacking_bibd_error",
]
