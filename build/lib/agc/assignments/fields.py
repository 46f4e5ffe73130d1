"""Finite-field tables from :mod:`galois`, shared by the design and graph constructions."""

from __future__ import annotations

import functools
from typing import NamedTuple

import galois
import numpy as np

from agc._checks import check_int

# Up to this order galois's pure-Python arithmetic builds a field's tables in well under a
# second; above it, the JIT-compiled ufuncs (a few seconds of compilation once) are faster.
_PYTHON_FIELD_MAX_ORDER = 128


class FieldTables(NamedTuple):
    """Tables of GF(q) in galois's integer representation ``0..q-1``.

    Attributes
    ----------
    add, sub, mul : numpy.ndarray, shape (q, q)
        ``add[a, b]`` is the integer representation of ``a + b`` (likewise ``-`` and ``*``).
    nonzero_square : numpy.ndarray of bool, shape (q,)
        Whether each element is a non-zero square.
    """

    add: np.ndarray
    sub: np.ndarray
    mul: np.ndarray
    nonzero_square: np.ndarray


@functools.cache
def field_tables(q):
    """Addition, subtraction and multiplication tables of GF(q) and its non-zero squares, all from galois.

    Elements are galois's integer representation ``0..q-1`` (0 is zero, 1 is one), so
    ``mul[a, b]`` is the integer representation of ``a * b``. Look-ups into these tables let
    numpy vectorise the constructions without compiling a ufunc for every new field. The
    fields are put back into galois's default ``"auto"`` mode afterwards. The arrays are
    read-only because they are cached.
    """
    mode = "python-calculate" if q <= _PYTHON_FIELD_MAX_ORDER else "auto"
    characteristic = galois.factors(q)[0][0]
    # The prime subfield first, so that building GF(q) itself needs no JIT compilation.
    prime_field = galois.GF(characteristic, compile=mode)
    field = galois.GF(q, compile=mode)
    try:
        x = field.elements
        squares = np.zeros(q, dtype=bool)
        squares[field.squares.view(np.ndarray)] = True
        squares[0] = False
        tables = FieldTables(
            add=(x[:, None] + x[None, :]).view(np.ndarray),
            sub=(x[:, None] - x[None, :]).view(np.ndarray),
            mul=(x[:, None] * x[None, :]).view(np.ndarray),
            nonzero_square=squares,
        )
    finally:
        prime_field.compile("auto")
        field.compile("auto")
    for table in tables:
        table.setflags(write=False)
    return tables


def check_prime_power(q, what):
    """Return ``q`` if it is a prime power, else raise ``ValueError`` naming the construction."""
    q = check_int("q", q, low=2)
    if not galois.is_prime_power(q):
        raise ValueError(
            f"q={q} is not a prime power; no {what} of order {q} is known from this construction "
            f"(it needs the finite field GF(q), which exists only for prime powers q)"
        )
    return q
