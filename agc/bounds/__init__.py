"""Bounds on the approximation error (DESIGN §2.4)."""

from agc.bounds.lower import (
    rank_lower_bound,
    rank_lower_bounds,
    unbiased_expected_error,
    worst_case_lower_bound,
)

__all__ = ["rank_lower_bound", "rank_lower_bounds", "unbiased_expected_error", "worst_case_lower_bound"]
