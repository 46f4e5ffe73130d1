"""Encodings: turn an assignment into a :class:`agc.Code` (DESIGN §2.2)."""

from agc.encodings.baselines import block_split, stacking
from agc.encodings.exact import chebyshev_nodes, polynomial
from agc.encodings.random import hadamard, rdm, rhpnc

__all__ = ["block_split", "chebyshev_nodes", "polynomial", "stacking"]
__all__ += ["hadamard", "rdm", "rhpnc"]
