import csv
import json
import subprocess
import sys

import pytest

import agc
from agc.cli import main

CYCLIC = ["--family", "cyclic", "--encoding", "stacking", "--ell", "2", "-P", "n=6", "-P", "k=6", "-P", "load=3"]


def test_version_and_info(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert agc.__version__ in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in list(agc.registry.FAMILIES) + list(agc.registry.ENCODINGS):
        assert name in out


def test_error_curve_to_csv_and_json(tmp_path):
    out = tmp_path / "curve.csv"
    assert main(["error", *CYCLIC, "--p", "0,0.2", "--trials", "50", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [float(r["p"]) for r in rows] == [0.0, 0.2]
    assert float(rows[0]["mean"]) == pytest.approx(0.5)  # stacking with ell = 2 and no straggler
    out_json = tmp_path / "curve.json"
    assert main(["error", *CYCLIC, "--s", "0,1", "--trials", "50", "--out", str(out_json)]) == 0
    assert [r["s"] for r in json.loads(out_json.read_text())] == [0, 1]


FANO_RDM = ["--family", "projective_plane", "--encoding", "rdm", "--ell", "2", "-P", "q=2"]


def _error_rows(tmp_path, argv, name="curve.csv"):
    out = tmp_path / name
    assert main(["error", *argv, "--out", str(out)]) == 0
    return list(csv.DictReader(out.open()))


def test_error_draws_mean_over_draws_matches_exact_expectation(tmp_path):
    # RDM on the Fano plane PG(2,2): E_signs err*(S) has a closed form, the same for every S of a size
    rows = _error_rows(tmp_path, [*FANO_RDM, "--s", "0,2", "--trials", "20", "--draws", "300"])
    A = agc.assignments.projective_plane(2)
    for row in rows:
        assert int(row["draws"]) == 300 and int(row["trials"]) == 20
        exact = agc.bounds.rdm_bibd_expected_error(A, 2, int(row["s"])) / (A.shape[1] * 2)
        assert abs(float(row["mean"]) - exact) <= 4 * float(row["se"])
    # with s = 0 every set is the whole of [n]: all the spread is between draws, which the s.e. holds
    assert float(rows[0]["se"]) > 0


def test_error_draws_one_is_conditional_on_the_code(tmp_path):
    (row,) = _error_rows(tmp_path, [*FANO_RDM, "--s", "0", "--trials", "20", "--draws", "1"])
    code = agc.make_code("projective_plane", "rdm", 2, seed=0, q=2)
    assert int(row["draws"]) == 1 and float(row["se"]) <= 1e-15  # one code, every set equal (to rounding)
    assert float(row["mean"]) == pytest.approx(agc.optimal_error(code, range(7), normalized=True), abs=1e-12)


def test_error_draws_reproducible_from_the_seed(tmp_path):
    argv = [*FANO_RDM, "--s", "2", "--trials", "10", "--draws", "5"]
    first, again = _error_rows(tmp_path, argv, "a.csv"), _error_rows(tmp_path, argv, "b.csv")
    other = _error_rows(tmp_path, [*argv, "--seed", "1"], "c.csv")
    assert first == again and first != other


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--draws", "0"], "--draws must be >= 1, got 0"),
        (["--trials", "1"], "--trials must be >= 2, got 1"),
        (["--draws", "3", "--encoding", "stacking"], "deterministic"),
    ],
)
def test_error_draws_bad_input(extra, message, capsys):
    assert main(["error", *FANO_RDM, "--s", "1", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["error", *CYCLIC],  # neither --p nor --s
        ["error", *CYCLIC, "--p", "1.5"],
        ["error", *CYCLIC, "--p", "abc"],
        ["error", *CYCLIC, "--s", "9"],
        ["error", *CYCLIC, "--p", "0.1", "--out", "x.txt"],
        ["error", *CYCLIC[:-2], "-P", "load=9", "--p", "0.1"],
        ["error", "--family", "nope", "--encoding", "stacking", "--ell", "2", "--p", "0.1"],
        ["error", *CYCLIC, "-P", "bogus=1", "--p", "0.1"],
        ["error", *CYCLIC, "-P", "novalue", "--p", "0.1"],
        ["error", "--ell", "2"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_one_line_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("agc")


def test_train_command_writes_results(tmp_path, capsys):
    out = tmp_path / "run.json"
    argv = ["train", "--family", "random_biregular", "--encoding", "rhpnc", "--ell", "2", "-P", "n=40", "-P", "k=20",
            "-P", "load=3", "--p", "0.2", "--iters", "15", "--seed", "0", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert len(result["loss"]) == 16 and result["loss"][-1] < result["loss"][0]
    assert main(["train", "--scheme", "full", "--iters", "5"]) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset", "cifar", "--scheme", "full"],
        ["train", "--dataset", "mnist", "--mnist-dir", "/nonexistent", "--scheme", "full"],
        ["train", "--family", "cyclic"],
        ["train", "--scheme", "ignore"],
        ["train", *CYCLIC, "--decoder", "unbiased"],
        ["train", *CYCLIC, "--failures", "meteor"],
    ],
)
def test_train_bad_arguments(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("agc"), err


def test_run_command_spawns_real_processes(tmp_path, capsys):
    out = tmp_path / "run.json"
    argv = ["run", "--workers", "4", "--family", "cyclic", "--encoding", "rdm", "--ell", "2", "-P", "load=2",
            "--s", "1", "--iters", "3", "--out", str(out)]
    assert main(argv) == 0
    assert "ms/iteration" in capsys.readouterr().out
    results = json.loads(out.read_text())
    assert len(results["iterations"]) == 3 and all(len(r["used"]) == 3 for r in results["iterations"])


@pytest.mark.parametrize("extra", [["--delay", "nope"], ["--exits", "9@1"], ["--s", "4"], ["-P", "load=9"]])
def test_run_bad_arguments(extra, capsys):
    argv = ["run", "--workers", "4", "--family", "cyclic", "--encoding", "rdm", "--ell", "2", "-P", "load=2", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("agc"), err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "agc.cli", "error", *CYCLIC, "--p", "2"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "p must lie in [0, 1)" in result.stderr


def test_sweep_command_runs_and_resumes(tmp_path, capsys):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("x = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell("from agc.record import record\nrecord('square', x * x)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    argv = ["sweep", str(path), "--grid", "x=2,3", "--out-dir", str(tmp_path / "sweeps")]
    assert main(argv) == 0
    rows = list(csv.DictReader((tmp_path / "sweeps" / "tiny" / "records.csv").open()))
    assert [(r["x"], r["value"]) for r in rows] == [("2", "4"), ("3", "9")]
    executed = tmp_path / "sweeps" / "tiny" / "x=2" / "executed.ipynb"
    before = executed.stat().st_mtime_ns
    assert main(argv) == 0  # finished points are skipped
    assert executed.stat().st_mtime_ns == before
    assert main(["sweep", str(path), "--grid", "y=1", "--out-dir", str(tmp_path / "sweeps")]) == 2
