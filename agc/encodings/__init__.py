"""Encodings: turn an assignment into a :class:`agc.Code` (the book's chapters on each construction)."""

from agc.encodings.baselines import block_split, block_split_copies, stacking
from agc.encodings.classical import (
    bernoulli_code,
    expander,
    graph_optimal_errors,
    one_step_decoder,
    one_step_error_bound,
    random_expander,
    second_eigenvalue,
    stochastic_code,
    stochastic_decoder,
)
from agc.encodings.exact import chebyshev_nodes, polynomial
from agc.encodings.optimized import optimized
from agc.encodings.random import iid_gaussian, rdm, rhpnc, rhpnc_code

__all__ = ["block_split", "block_split_copies", "chebyshev_nodes", "polynomial", "stacking"]
__all__ += ["iid_gaussian", "optimized", "rdm", "rhpnc", "rhpnc_code"]
__all__ += ["bernoulli_code", "expander", "graph_optimal_errors", "one_step_decoder", "one_step_error_bound",
            "random_expander", "second_eigenvalue", "stochastic_code", "stochastic_decoder"]
