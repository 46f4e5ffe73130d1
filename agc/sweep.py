"""Run a chapter over a grid of parameters and collect what it records.

:func:`sweep` executes a chapter notebook with papermill once per point of a grid (the
cartesian product of the values given for each parameter). The kernel of each point records
its numbers with :func:`agc.record.record`; the sweep gathers them into one tidy CSV.

Layout of ``out_dir/<chapter>/``::

    <point-id>/executed.ipynb        the executed notebook of a finished point
    <point-id>/records/*.jsonl       what the kernel recorded (AGC_RECORD_DIR)
    <point-id>/done                  the parameters of the point, as JSON
    <point-id>.partial/              a point being executed (or interrupted)
    <point-id>.failed/               the last failed attempt, kept for inspection
    records.csv                      all records of all finished points

A point is executed in ``<point-id>.partial`` and renamed to ``<point-id>`` only after its
notebook ran to the end and the ``done`` marker was written, so an interrupted point is never
taken as finished: a rerun deletes the leftover ``.partial`` directory and runs it again. A
rerun skips a point whose ``done`` marker holds the same parameters; a point whose fixed
parameters changed is run again. A changed notebook is *not* detected: pass ``force=True``
(or delete the directory) after editing a chapter. Two sweeps of the same chapter into the
same ``out_dir`` must not run at the same time.

Failures: every point is attempted; the failed ones are kept as ``<point-id>.failed``, the CSV
is written from the finished points, and then :class:`SweepError` is raised naming each
failed point and its executed notebook (which shows the traceback).

Examples
--------
>>> parse_grid(["ell=2,3", "scheme=rdm,stacking", "p=0.1"])
{'ell': [2, 3], 'scheme': ['rdm', 'stacking'], 'p': [0.1]}
>>> [point_id(point) for point in grid_points({"ell": [2, 3], "q": [9]})]
['ell=2__q=9', 'ell=3__q=9']
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import itertools
import json
import math
import numbers
import os
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import papermill
from jupyter_client.kernelspec import NoSuchKernel, get_kernel_spec
from tqdm import tqdm

from agc._io import check_directory, write_csv
from agc._parse import parse_value
from agc.record import ENV_VAR, read_records

__all__ = [
    "SweepError",
    "grid_points",
    "parse_grid",
    "point_id",
    "resolve_chapter",
    "sweep",
]

_BOOK = Path(__file__).resolve().parents[1] / "book"
_SAFE = re.compile(r"[A-Za-z0-9._+-]{1,40}")
_MAX_ID = 120
_SCALARS = (bool, int, float, str, type(None))


class SweepError(RuntimeError):
    """Some points of a sweep failed; ``failures`` maps each point id to its error.

    Parameters
    ----------
    chapter : str
        The chapter's name.
    failures : dict
        Point id → one-line description of its error.
    """

    def __init__(self, chapter: str, failures: dict[str, str]):
        self.failures = dict(failures)
        lines = [f"{len(failures)} point(s) of chapter {chapter!r} failed:"]
        lines += [f"  {pid}: {message}" for pid, message in failures.items()]
        super().__init__("\n".join(lines))


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name must be a Python identifier; got {name!r}")
    return name


def parse_grid(items) -> dict[str, list]:
    """Parse ``NAME=V1,V2,...`` strings into a grid.

    Parameters
    ----------
    items : iterable of str
        One item per parameter.

    Returns
    -------
    dict
        name → list of values (parsed with :func:`parse_value`), in the order given.

    Raises
    ------
    ValueError
        If an item has no ``=``, no value, a name that is not an identifier, or repeats a name.

    Examples
    --------
    >>> parse_grid(["ell=2,3", "q=3,4"])
    {'ell': [2, 3], 'q': [3, 4]}
    >>> parse_grid(["ell"])
    Traceback (most recent call last):
    ...
    ValueError: grid item must look like NAME=V1,V2,...; got 'ell'
    """
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not values.strip():
            raise ValueError(f"grid item must look like NAME=V1,V2,...; got {item!r}")
        _check_name(name)
        if name in grid:
            raise ValueError(f"grid parameter {name!r} given twice")
        parts = [v.strip() for v in values.split(",")]
        if "" in parts:
            raise ValueError(f"grid item {item!r} has an empty value")
        grid[name] = [parse_value(v) for v in parts]
    return grid


def _scalar(name: str, value):
    if hasattr(value, "item") and not isinstance(value, _SCALARS):
        value = value.item()
    if not isinstance(value, _SCALARS):
        raise TypeError(
            f"value of parameter {name!r} must be a bool, int, float, str or None; "
            f"got {value!r} ({type(value).__name__})"
        )
    return value


def grid_points(grid: dict) -> list[dict]:
    """The points of a grid: the cartesian product of its value lists, in order.

    Parameters
    ----------
    grid : dict
        Parameter name → list of scalar values.

    Returns
    -------
    list of dict
        One dict per combination, in the order of ``itertools.product``.

    Raises
    ------
    TypeError
        If a value is not a scalar or a grid entry is not a list.
    ValueError
        If a grid entry is empty.

    Examples
    --------
    >>> grid_points({"ell": [2, 3], "q": [9]})
    [{'ell': 2, 'q': 9}, {'ell': 3, 'q': 9}]
    >>> grid_points({})
    [{}]
    >>> grid_points({"ell": 2})
    Traceback (most recent call last):
    ...
    TypeError: grid['ell'] must be a non-empty list of values; got 2
    """
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict name -> list of values; got {type(grid).__name__}")
    names = [_check_name(name) for name in grid]
    lists = []
    for name in names:
        values = grid[name]
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"grid[{name!r}] must be a non-empty list of values; got {values!r}")
        values = [_scalar(name, v) for v in values]
        if not values:
            raise ValueError(f"grid[{name!r}] is empty")
        lists.append(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*lists)]


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def point_id(point: dict) -> str:
    """A deterministic, readable, file-system-safe name for a grid point.

    ``name=value`` pairs joined by ``__``; a value that is long or has characters other than
    letters, digits and ``._+-`` is replaced by ``h`` and 12 hex digits of a hash of it; an id
    longer than 120 characters becomes ``point-`` and a hash of the whole point.

    Parameters
    ----------
    point : dict

    Returns
    -------
    str

    Examples
    --------
    >>> point_id({"ell": 2, "q": 9})
    'ell=2__q=9'
    >>> point_id({"p": 0.25, "exact": True, "scheme": "rdm"})
    'p=0.25__exact=True__scheme=rdm'
    >>> point_id({"family": "a long/odd value"})
    'family=h2c69a2cc0bdb'
    >>> point_id({})
    'default'
    """
    if not point:
        return "default"
    parts = []
    for name, value in point.items():
        text = str(value)
        parts.append(f"{name}={text if _SAFE.fullmatch(text) else 'h' + _hash(value)}")
    pid = "__".join(parts)
    return pid if len(pid) <= _MAX_ID else f"point-{_hash(point)}"


def resolve_chapter(chapter) -> Path:
    """Find a chapter notebook: a path to a file, or a name in ``book/``.

    A name is looked up as ``book/<name>.ipynb`` in the current directory, then in the
    repository that holds this package.

    Raises
    ------
    ValueError
        If no such notebook exists (the message lists the paths tried).

    Parameters
    ----------
    chapter : str or os.PathLike

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> resolve_chapter("intro").name
    'intro.ipynb'
    """
    path = Path(chapter)
    candidates = [path]
    if path.suffix != ".ipynb" and len(path.parts) == 1:
        candidates += [Path("book") / f"{chapter}.ipynb", _BOOK / f"{chapter}.ipynb"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ValueError(
        f"chapter {str(chapter)!r} not found; tried " + ", ".join(str(c) for c in candidates)
    )


def _parameter_names(notebook: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ValueError(f"chapter {str(notebook)!r} has no cell tagged 'parameters'")
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as exc:
        raise ValueError(f"the parameters cell of {str(notebook)!r} is not Python: {exc}") from None
    stored = (n for n in ast.walk(tree) if isinstance(n, ast.Name))
    return {n.id for n in stored if isinstance(n.ctx, ast.Store)}


@contextlib.contextmanager
def _environ(name: str, value: str):
    """Set an environment variable (inherited by the kernel papermill starts), then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _canonical(parameters: dict) -> str:
    """Parameters as canonical JSON: equal for equal parameters, NaN included (``NaN != NaN``)."""
    return json.dumps(parameters, sort_keys=True)


def _is_done(directory: Path, parameters: dict) -> bool:
    marker = directory / "done"
    if not marker.is_file():
        return False
    try:
        return _canonical(json.loads(marker.read_text())["parameters"]) == _canonical(parameters)
    except (ValueError, KeyError, TypeError):
        return False


def _run_point(notebook: Path, parameters: dict, final: Path, kernel: str, language: str) -> None:
    """Execute one point into ``final.partial``, then rename it to ``final``."""
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with _environ(ENV_VAR, str(partial / "records")):
        papermill.execute_notebook(
            notebook,
            partial / "executed.ipynb",
            parameters=parameters,
            kernel_name=kernel,
            language=language,
            progress_bar=False,
            cwd=notebook.parent,
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    (partial / "done").write_text(json.dumps({"parameters": parameters}, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    os.rename(partial, final)


def _keep_failed(exc: Exception, partial: Path, failed: Path) -> str:
    """Move a failed attempt to ``failed`` and describe the error in one line."""
    shutil.rmtree(failed, ignore_errors=True)
    if partial.exists():
        os.rename(partial, failed)
    if hasattr(exc, "ename"):  # papermill's error from a cell: name the cell and the error
        what = f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    else:
        what = f"{type(exc).__name__}: {exc}"
    executed = failed / "executed.ipynb"
    return f"{what} (see {executed})" if executed.exists() else what


def _numeric(value):
    """Bools become 0/1 so that the ``value`` column of the table is numeric."""
    return int(value) if isinstance(value, bool) else value


def _same(a, b) -> bool:
    """Equal values, numbers compared as numbers (``2 == 2.0``) and NaN equal to NaN."""
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real) and not isinstance(a, bool) and not isinstance(b, bool):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _clash(point: dict, entries: list[dict]) -> str | None:
    """The first record whose label contradicts the grid point (a label named like a grid parameter)."""
    for entry in entries:
        for key in sorted(set(point) & set(entry)):
            if not _same(entry[key], point[key]):
                return (f"record {entry['name']!r} has label {key}={entry[key]!r}, but the grid sets "
                        f"{key}={point[key]!r}: rename the label in the chapter")
    return None


def _tidy(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """One row per record; integer columns stay integers (pandas' nullable ``Int64``) where a label is missing."""
    columns = list(dict.fromkeys([*columns, "name", "value", *(k for r in rows for k in r)]))
    table = pd.DataFrame(rows, columns=columns)
    for column in columns:
        values = [row[column] for row in rows if column in row]
        if values and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
            table[column] = pd.array([row.get(column) for row in rows], dtype="Int64")
    return table


def sweep(
    chapter,
    grid: dict,
    params: dict | None = None,
    out_dir="_build/sweeps",
    progress: bool = True,
    kernel: str = "python3",
    force: bool = False,
) -> pd.DataFrame:
    """Run a chapter once per grid point and collect its records into one tidy table.

    Parameters
    ----------
    chapter : str or path-like
        A notebook path, or a chapter name resolved in ``book/`` (``"intro"`` →
        ``book/intro.ipynb``); see :func:`resolve_chapter`.
    grid : dict
        Parameter name → list of values; the chapter runs once per combination.
    params : dict, optional
        Fixed parameters passed to every point (must not repeat a grid name).
    out_dir : path-like
        Where ``<chapter>/`` goes (see the module docstring for its layout).
    progress : bool
        Show a tqdm progress bar over the points (on stderr). Nothing else is printed.
    kernel : str
        The Jupyter kernel to run the chapter in.
    force : bool
        Run finished points again.

    Returns
    -------
    pandas.DataFrame
        One row per record of every point, in grid order: the grid parameters, the fixed
        parameters, ``name``, ``value`` (bools as 0/1, so that the column is numeric) and the
        label columns (integer columns stay integers); also written to
        ``out_dir/<chapter>/records.csv``.

    Raises
    ------
    ValueError
        If the chapter is not found, has no ``parameters`` cell, a parameter is not set in
        that cell or is both fixed and swept, the kernel is not installed, or ``out_dir`` cannot
        be a writable directory.
    SweepError
        After all points were attempted and the records of the others written, if some failed
        or recorded a label that contradicts the grid (each reported with its reason).
    """
    notebook = resolve_chapter(chapter)
    check_directory(out_dir, name="out_dir")
    params = {name: _scalar(_check_name(name), v) for name, v in (params or {}).items()}
    points = grid_points(grid)
    both = sorted(set(params) & set(grid))
    if both:
        raise ValueError(f"parameters {both} are both fixed (params) and swept (grid)")
    unknown = sorted((set(params) | set(grid)) - _parameter_names(notebook))
    if unknown:
        raise ValueError(
            f"parameters {unknown} are not set in the parameters cell of {notebook.name}"
        )
    try:
        language = get_kernel_spec(kernel).language
    except NoSuchKernel:
        raise ValueError(f"kernel {kernel!r} is not installed (jupyter kernelspec list)") from None
    ids = [point_id(p) for p in points]
    if len(set(ids)) != len(ids):
        raise ValueError(f"grid values give clashing point ids: {sorted(ids)}")

    base = Path(out_dir).resolve() / notebook.stem
    rows, failures = [], {}
    bar = tqdm(list(zip(points, ids)), desc=notebook.stem, unit="point", disable=not progress)
    for point, pid in bar:
        bar.set_postfix_str(pid, refresh=False)
        final, failed = base / pid, base / f"{pid}.failed"
        parameters = {**params, **point}
        if force or not _is_done(final, parameters):
            try:
                _run_point(notebook, parameters, final, kernel, language)
            except Exception as exc:
                failures[pid] = _keep_failed(exc, final.with_name(f"{pid}.partial"), failed)
                continue
        entries = read_records(final / "records")
        clash = _clash(point, entries)
        if clash is not None:  # the point ran, but its records contradict the grid: report it, keep the others
            failures[pid] = f"{clash} (see {final / 'executed.ipynb'})"
            continue
        shutil.rmtree(failed, ignore_errors=True)
        rows += [{**point, **params, **entry, "value": _numeric(entry["value"])} for entry in entries]
    bar.close()

    table = _tidy(rows, [*grid, *params])
    base.mkdir(parents=True, exist_ok=True)
    write_csv(base / "records.csv", table)
    if failures:
        raise SweepError(notebook.stem, failures)
    return table
