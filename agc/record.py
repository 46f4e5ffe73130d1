"""Record the numbers a chapter computes, so that sweeps can collect them.

A chapter calls ``record(name, value, **labels)`` for every number it reports: an error, a
bound, a flag saying whether a claim held. Each call stores one flat dictionary
``{"name": ..., "value": ..., **labels}``

* in memory, always (:func:`records`, :func:`clear`), and
* on disk, when the environment variable ``AGC_RECORD_DIR`` names a directory: one JSON line
  is appended to ``AGC_RECORD_DIR/records-<pid>.jsonl``, one file per process.

:func:`agc.sweep.sweep` sets ``AGC_RECORD_DIR`` for the kernel of every grid point and reads
the files back with :func:`read_records`.

Why append-only lines: a record is written by a single ``write`` of one complete line to a
file opened in append mode, then flushed and closed, so an earlier record is never rewritten
and a crash can at worst cut the last line short. One file per process means that worker
processes started by a chapter never interleave their lines with the kernel's. A sweep reads
the files of a grid point only after the point ran to the end (see :mod:`agc.sweep`), and
:func:`read_records` rejects a malformed line instead of skipping it.

Only numbers are stored: ``value`` is a bool, an int or a finite float (NumPy scalars are
converted), labels are bools, ints, finite floats or strings. The format is plain JSON, no
pickles.

Examples
--------
>>> from agc import record as rec
>>> rec.clear()
>>> rec.record("worst_error", 0.25, scheme="rdm", ell=2)
>>> rec.record("bound_holds", True)
>>> rec.records()
[{'name': 'worst_error', 'value': 0.25, 'scheme': 'rdm', 'ell': 2},
 {'name': 'bound_holds', 'value': True}]
>>> rec.record("worst_error", "high")
Traceback (most recent call last):
...
TypeError: value must be a bool, int or finite float; got 'high' (str)
>>> rec.clear(); rec.records()
[]
"""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path

import numpy as np

__all__ = ["ENV_VAR", "clear", "read_records", "record", "records"]

ENV_VAR = "AGC_RECORD_DIR"
"""Environment variable naming the directory that records are appended to."""

_RECORDS: list[dict] = []


def _number(x, what: str):
    """Return ``x`` as a plain bool, int or finite float, or raise naming ``what``."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"{what} must be finite; got {x!r}")
        return x
    raise TypeError(f"{what} must be a bool, int or finite float; got {x!r} ({type(x).__name__})")


def _label(key: str, x):
    if isinstance(x, str):
        return x
    try:
        return _number(x, f"label {key!r}")
    except TypeError:
        raise TypeError(
            f"label {key!r} must be a str, bool, int or finite float; "
            f"got {x!r} ({type(x).__name__})"
        ) from None


def record(name: str, value, **labels) -> None:
    """Record one number computed by a chapter.

    Parameters
    ----------
    name : str
        What the number is, e.g. ``"worst_error"`` or ``"bound_holds"``.
    value : bool, int or float
        The number; NumPy scalars are converted; NaN and infinities are rejected.
    **labels : str, bool, int or float
        What distinguishes this number from others of the same name (``scheme="rdm"``,
        ``p=0.1``). Labels become columns of a sweep's CSV.

    Notes
    -----
    The record ``{"name": name, "value": value, **labels}`` is kept in memory and, when
    ``AGC_RECORD_DIR`` is set, appended to this process's file there. Nothing is returned, so
    that a call at the end of a notebook cell prints nothing.

    Raises
    ------
    TypeError
        If ``name`` is not a non-empty string, or ``value`` or a label is not a number
        (or, for labels, a string).
    ValueError
        If ``value`` or a label is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> clear()
    >>> record("err", np.float64(0.5), scheme="rdm")
    >>> record("holds", np.float32(0.5) < 1)
    >>> records()
    [{'name': 'err', 'value': 0.5, 'scheme': 'rdm'}, {'name': 'holds', 'value': True}]
    >>> record("err", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: value must be finite; got nan
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str; got {name!r}")
    entry = {"name": name, "value": _number(value, "value")}
    entry.update({key: _label(key, x) for key, x in labels.items()})
    _RECORDS.append(entry)
    directory = os.environ.get(ENV_VAR)
    if directory:
        _append(Path(directory), entry)


def _append(directory: Path, entry: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, allow_nan=False) + "\n"
    with open(directory / f"records-{os.getpid()}.jsonl", "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


def records() -> list[dict]:
    """Return copies of the records of this process, oldest first.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> clear()
    >>> record("x", 1)
    >>> records()
    [{'name': 'x', 'value': 1}]
    """
    return [dict(r) for r in _RECORDS]


def clear() -> None:
    """Forget the in-memory records of this process (files on disk are kept).

    Examples
    --------
    >>> record("x", 1)
    >>> clear()
    >>> records()
    []
    """
    _RECORDS.clear()


def read_records(directory: str | os.PathLike) -> list[dict]:
    """Read every ``*.jsonl`` record file in ``directory``.

    Files are read in name order and lines in file order. A missing directory holds no
    records.

    Parameters
    ----------
    directory : path-like
        A directory that ``AGC_RECORD_DIR`` pointed to.

    Returns
    -------
    list of dict

    Raises
    ------
    ValueError
        If a line is not a JSON object with a ``name`` and a ``value`` (the message names
        the file and the line).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.environ[ENV_VAR] = d
    ...     record("err", 0.5, scheme="rdm")
    ...     del os.environ[ENV_VAR]
    ...     read_records(d)
    [{'name': 'err', 'value': 0.5, 'scheme': 'rdm'}]
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not a JSON record ({exc})") from None
                if not isinstance(entry, dict) or not {"name", "value"} <= entry.keys():
                    raise ValueError(f"{path}, line {number}: a record needs a name and a value")
                out.append(entry)
    return out
