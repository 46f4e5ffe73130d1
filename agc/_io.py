"""Writing results: one atomic writer for text, JSON and CSV, and one JSON converter.

Every file the package writes (``agc error --out``, training and runtime results, a sweep's
``records.csv``) goes through :func:`write_atomic`: the text is written to a temporary file in
the destination's directory and renamed over the destination, so a reader never sees a
half-written file and an interrupted write leaves the old file intact. The temporary file is
removed on every failure. A file that existed keeps its permission bits; a new one gets the
mode the process's umask gives (as ``open`` would), not ``tempfile``'s private ``0600``.

:func:`check_writable` validates an output path *before* a long computation starts, so that a
typo in ``--out`` costs one line, not a finished run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["check_directory", "check_writable", "json_ready", "write_atomic", "write_csv", "write_json"]


def json_ready(value):
    """Convert ``value`` recursively into plain JSON types.

    NumPy scalars and arrays become Python numbers and lists, tuples become lists, dict keys
    become strings, non-finite floats become ``None`` (JSON has no NaN), and an object with a
    ``to_dict()`` method is converted through it. Anything else that JSON cannot hold becomes
    its ``repr``.

    Parameters
    ----------
    value : object

    Returns
    -------
    object
        Built of ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.

    Examples
    --------
    >>> json_ready({"a": np.float64(0.5), 1: (np.arange(2), float("nan"))})
    {'a': 0.5, '1': [[0, 1], None]}
    """
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return repr(value)


def _umask_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable(path, *, suffixes=None, name="out"):
    """Check, before any work, that ``path`` can be written as a file; return it as a Path.

    Parameters
    ----------
    path : str or os.PathLike
    suffixes : tuple of str, optional
        Allowed file name endings, e.g. ``(".csv", ".json")``.
    name : str
        The option or parameter named in the error (``"--out"``, ``"out"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``path`` is a directory, has a wrong suffix, or its directory cannot be created or
        written to (the message says which).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     check_writable(Path(directory) / "new" / "r.json").name
    'r.json'
    >>> check_writable("/dev/null/x.csv")
    Traceback (most recent call last):
    ...
    ValueError: out=/dev/null/x.csv: cannot create the directory /dev/null (/dev/null exists and is not a directory)
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name}={path} is a directory; give a file name")
    if suffixes and not str(path).endswith(tuple(suffixes)):
        raise ValueError(f"{name}={path} must end in {' or '.join(suffixes)}")
    directory = path.parent
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name}={path}: cannot create the directory {directory} ({existing} exists and is not a directory)")
    _probe(existing, f"{name}={path}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{name}={path} exists and is not writable")
    return path


def _probe(directory, what):
    """Create and remove a file in ``directory``: the only honest test that files can be written there."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".agc-probe-"):
            pass
    except OSError as error:
        raise ValueError(f"{what}: cannot write in the directory {directory} ({error.strerror or error})") from None


def check_directory(path, name="out_dir"):
    """Check, before any work, that ``path`` is or can become a writable directory; return it as a Path.

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        The option or parameter named in the error.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If ``path`` or one of its parents is a file, or the first existing parent is not writable.

    Examples
    --------
    >>> check_directory("/dev/null/x", name="--out-dir")
    Traceback (most recent call last):
    ...
    ValueError: --out-dir=/dev/null/x: /dev/null exists and is not a directory
    """
    path = Path(path)
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name}={path}: {existing} exists and is not a directory")
    _probe(existing, f"{name}={path}")
    return path


def write_atomic(path, text):
    """Write ``text`` (str or bytes) to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : str or os.PathLike
        The destination; its directory is created if missing.
    text : str or bytes

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OSError
        If the file cannot be written; the temporary file is removed first.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     target = write_atomic(Path(directory) / "a.txt", "hello")
    ...     target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hello', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _umask_mode()
    binary = isinstance(text, bytes)
    handle = tempfile.NamedTemporaryFile("wb" if binary else "w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False, **({} if binary else {"encoding": "utf-8"}))
    try:
        with handle:
            handle.write(text)
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise
    return path


def write_json(path, value, indent=None):
    """Write ``value`` as JSON, atomically, after :func:`json_ready` (NaN becomes ``null``).

    Parameters
    ----------
    path : str or os.PathLike
    value : object
    indent : int, optional

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     json.loads(write_json(Path(directory) / "r.json", {"loss": [1.0, math.nan]}).read_text())
    {'loss': [1.0, None]}
    """
    return write_atomic(path, json.dumps(json_ready(value), indent=indent, allow_nan=False) + "\n")


def write_csv(path, frame):
    """Write a :class:`pandas.DataFrame` (or a list of dicts) as CSV without its index, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    frame : pandas.DataFrame or list of dict

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     print(write_csv(Path(directory) / "r.csv", [{"s": 1, "mean": 0.5}]).read_text().strip())
    s,mean
    1,0.5
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(list(frame))
    return write_atomic(path, frame.to_csv(index=False))
