"""agc.sweep: papermill over a grid, skip finished points, never trust interrupted ones.

One module-scoped 2 × 2 sweep of a tiny notebook is run once (four kernel starts); each test
that reruns works on its own copy of that sweep. The notebook appends a line to a log file
per execution, so the tests count executions instead of guessing from timestamps.
"""

import json
import shutil

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from agc._parse import parse_key_values, parse_value
from agc.sweep import (
    SweepError,
    grid_points,
    parse_grid,
    point_id,
    resolve_chapter,
    sweep,
)

GRID = {"a": [1, 2], "b": ["x", "y"]}


def write_notebook(path, parameters="a = 1\nb = 'x'\nc = 0\nlog = ''"):
    body = (
        "import agc.record\n"
        "with open(log, 'a') as f:\n"
        "    f.write(f'{a} {b}\\n')\n"
        "assert a != 99, 'a must not be 99'\n"
        "agc.record.record('sum', a + c, kind=b)\n"
        "agc.record.record('positive', a > 0)\n"
    )
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A tiny chapter"),
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            new_code_cell(body),
        ]
    )
    nbformat.write(nb, path)
    return path


def runs(log):
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished 2 × 2 sweep: (notebook, out_dir, log, table)."""
    root = tmp_path_factory.mktemp("sweep")
    notebook = write_notebook(root / "tiny.ipynb")
    log = root / "runs.log"
    table = sweep(notebook, GRID, {"log": str(log)}, out_dir=root / "out", progress=False)
    return notebook, root / "out", log, table


@pytest.fixture
def copy(swept, tmp_path):
    """A private copy of the finished sweep, with the log counted from zero."""
    notebook, out, log, _ = swept
    shutil.copytree(out, tmp_path / "out")
    before = len(runs(log))
    return notebook, tmp_path / "out", log, lambda: len(runs(log)) - before


def test_the_sweep_collects_a_tidy_csv(swept):
    _, out, log, table = swept
    assert sorted(runs(log)) == ["1 x", "1 y", "2 x", "2 y"]
    csv = pd.read_csv(out / "tiny" / "records.csv")
    assert list(csv.columns) == ["a", "b", "log", "name", "value", "kind"]  # fixed parameters are columns
    assert len(csv) == 8
    sums = csv[csv.name == "sum"]
    assert list(sums.a) == [1, 1, 2, 2] and list(sums.b) == ["x", "y", "x", "y"]
    assert list(sums.value) == [1, 1, 2, 2] and list(sums.kind) == list(sums.b)
    assert set(csv[csv.name == "positive"].value) == {1}  # bools are stored as 0/1
    pd.testing.assert_frame_equal(table, csv, check_dtype=False)
    for pid in ["a=1__b=x", "a=1__b=y", "a=2__b=x", "a=2__b=y"]:
        point = out / "tiny" / pid
        assert (point / "executed.ipynb").is_file()
        assert json.loads((point / "done").read_text())["parameters"]["a"] in (1, 2)
    assert not list((out / "tiny").glob("*.partial"))


def test_a_rerun_skips_finished_points(copy):
    notebook, out, log, new_runs = copy
    table = sweep(notebook, GRID, {"log": str(log)}, out_dir=out, progress=False)
    assert new_runs() == 0
    assert len(table) == 8


def test_an_interrupted_point_is_run_again(copy):
    notebook, out, log, new_runs = copy
    point = out / "tiny" / "a=2__b=y"
    # An interrupted run leaves only the .partial directory (here even with a done marker),
    # and a final directory without a done marker is not finished either.
    point.rename(point.with_name("a=2__b=y.partial"))
    (out / "tiny" / "a=1__b=x" / "done").unlink()
    sweep(notebook, GRID, {"log": str(log)}, out_dir=out, progress=False)
    assert sorted(runs(log)[-new_runs():]) == ["1 x", "2 y"]
    assert (point / "done").is_file()
    assert not point.with_name("a=2__b=y.partial").exists()


def test_changed_fixed_parameters_rerun_the_point(copy):
    notebook, out, log, new_runs = copy
    table = sweep(notebook, {"a": [1], "b": ["x"]}, {"log": str(log), "c": 10}, out_dir=out,
                  progress=False)
    assert new_runs() == 1
    assert table.set_index("name").loc["sum", "value"] == 11


def test_failed_points_raise_after_the_others_ran(copy):
    notebook, out, log, new_runs = copy
    with pytest.raises(SweepError, match=r"a=99__b=x: cell \[\d+\] raised AssertionError") as err:
        sweep(notebook, {"a": [99, 1], "b": ["x"]}, {"log": str(log)}, out_dir=out,
              progress=False)
    assert list(err.value.failures) == ["a=99__b=x"]
    assert new_runs() == 1  # a=99 ran and failed; a=1 was already finished
    assert (out / "tiny" / "a=99__b=x.failed" / "executed.ipynb").is_file()
    assert not (out / "tiny" / "a=99__b=x").exists()
    csv = pd.read_csv(out / "tiny" / "records.csv")
    assert set(csv.a) == {1}


def test_a_label_that_contradicts_the_grid_fails_its_point_and_keeps_the_others(tmp_path):
    notebook = write_notebook(tmp_path / "tiny.ipynb", parameters="a = 1\nb = 'x'\nc = 0\nlog = ''")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[-1].source += "\nagc.record.record('shifted', 1, a=a + 1 if a == 2 else a)\n"
    nbformat.write(nb, notebook)
    log = tmp_path / "runs.log"
    with pytest.raises(SweepError, match=r"a=2__b=x: record 'shifted' has label a=3, but the grid sets a=2") as err:
        sweep(notebook, {"a": [1, 2], "b": ["x"]}, {"log": str(log)}, out_dir=tmp_path / "out", progress=False)
    assert list(err.value.failures) == ["a=2__b=x"]
    csv = pd.read_csv(tmp_path / "out" / "tiny" / "records.csv")
    assert set(csv.a) == {1} and len(csv) == 3  # the other point's records are written


def test_nan_grid_values_count_as_done_and_integer_labels_stay_integers(tmp_path):
    notebook = write_notebook(tmp_path / "tiny.ipynb", parameters="a = 1\nb = 'x'\nc = 0\nlog = ''\nz = 0.0")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[-1].source += "\nif a == 1:\n    agc.record.record('count', 3, size=7)\n"
    nbformat.write(nb, notebook)
    log = tmp_path / "runs.log"
    grid = {"a": [1, 2], "z": [float("nan")]}
    sweep(notebook, grid, {"log": str(log)}, out_dir=tmp_path / "out", progress=False)
    sweep(notebook, grid, {"log": str(log)}, out_dir=tmp_path / "out", progress=False)
    assert len(runs(log)) == 2  # the rerun found both NaN points done
    text = (tmp_path / "out" / "tiny" / "records.csv").read_text()
    assert ",7\n" in text and ",7.0" not in text  # the label size stays an integer where other rows lack it


def test_bad_sweeps_are_refused_before_running(tmp_path):
    notebook = write_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(ValueError, match=r"\['z'\] are not set in the parameters cell"):
        sweep(notebook, {"z": [1]}, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="both fixed"):
        sweep(notebook, {"a": [1]}, {"a": 2}, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="clashing point ids"):
        sweep(notebook, {"b": [1, "1"]}, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="not found"):
        sweep(tmp_path / "missing.ipynb", {}, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="kernel 'no-such-kernel' is not installed"):
        sweep(notebook, {"a": [1]}, out_dir=tmp_path, progress=False, kernel="no-such-kernel")
    bare = tmp_path / "bare.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("a = 1")]), bare)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        sweep(bare, {"a": [1]}, out_dir=tmp_path, progress=False)
    assert not (tmp_path / "tiny").exists()


def test_parse_values_grids_and_params():
    assert parse_value("2") == 2 and isinstance(parse_value("2"), int)
    assert parse_value("2.0") == 2.0 and isinstance(parse_value("2.0"), float)
    assert parse_value("FALSE") is False and parse_value("None") is None
    assert parse_value("PG(2,9)") == "PG(2,9)"
    assert parse_grid(["ell=2,3", "q=3,4"]) == {"ell": [2, 3], "q": [3, 4]}
    assert parse_grid([" p = 0.1, 0.2 "]) == {"p": [0.1, 0.2]}
    assert parse_key_values(["seed=0", "scheme=rdm"]) == {"seed": 0, "scheme": "rdm"}
    for bad in (["ell=2", "ell=3"], ["ell="], ["ell=2,,3"], ["2ell=1"], ["=1"]):
        with pytest.raises(ValueError):
            parse_grid(bad)
    with pytest.raises(ValueError, match="given twice"):
        parse_key_values(["seed=0", "seed=1"])


def test_point_ids_are_readable_safe_and_deterministic():
    assert point_id({"ell": 2, "q": 9}) == "ell=2__q=9"
    assert point_id({"p": 0.1, "flag": False}) == "p=0.1__flag=False"
    odd = point_id({"path": "../etc/passwd"})
    assert odd.startswith("path=h") and "/" not in odd
    assert odd == point_id({"path": "../etc/passwd"})
    assert point_id({"x": "a" * 41}) != point_id({"x": "a" * 42})
    long = {f"parameter{i}": i for i in range(20)}
    assert point_id(long).startswith("point-") and len(point_id(long)) < 30
    assert [point_id(p) for p in grid_points({"s": ["rdm", "stacking"], "ell": [2]})] == [
        "s=rdm__ell=2",
        "s=stacking__ell=2",
    ]
    with pytest.raises(TypeError):
        grid_points({"ell": [[1, 2]]})
    with pytest.raises(ValueError):
        grid_points({"ell": []})


def test_chapter_names_resolve_in_book():
    assert resolve_chapter("intro").parts[-2:] == ("book", "intro.ipynb")
    with pytest.raises(ValueError, match="not found"):
        resolve_chapter("no_such_chapter")


def chapter_label_clashes(path):
    """``record`` calls of a chapter whose label named like a parameter holds something else."""
    import ast

    nb = nbformat.read(path, as_version=4)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    parameters = {target.id for cell in cells if "parameters" in cell.metadata.get("tags", [])
                  for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)}
    clashes = []
    for cell in cells:
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "record":
                for keyword in node.keywords:
                    if keyword.arg in parameters and not (isinstance(keyword.value, ast.Name)
                                                          and keyword.value.id == keyword.arg):
                        clashes.append(f"{path.name}: record(..., {keyword.arg}={ast.unparse(keyword.value)})")
    return clashes


def test_no_chapter_records_a_label_named_like_a_parameter_with_another_value():
    # A sweep over a parameter fails every point whose records carry a label of that name with
    # another value (found: gradient_coding recorded s=4 for its conditioning table, so
    # `agc sweep gradient_coding --grid s=1,2` failed at s = 2).
    from pathlib import Path

    chapters = sorted((Path(__file__).parent.parent / "book").glob("*.ipynb"))
    assert chapters
    assert [clash for path in chapters for clash in chapter_label_clashes(path)] == []
