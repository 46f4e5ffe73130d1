"""Assignments: ``(n, k)`` 0/1 matrices, rows = workers, columns = chunks (DESIGN §2.3)."""

from agc.assignments.bipartite import cyclic, fractional_repetition

__all__ = ["cyclic", "fractional_repetition"]
