"""One source of run options: RunConfig validates everything before any process starts, the command
line reaches every field, and every usage error of ``agc run`` is one line with exit code 2.
"""

import argparse
import json
import math
import subprocess

import pytest

import agc
from agc.cli import main
from agc.runtime import RunConfig, RunResult, launch, netns
from agc.runtime.options import add_run_arguments

BASE = ["run", "--workers", "4", "--family", "cyclic", "--encoding", "rdm", "--ell", "2", "-P", "load=2"]


@pytest.fixture
def no_launch(monkeypatch):
    """Fail the test if a run gets as far as starting processes."""
    def refuse(config, net):
        raise AssertionError("a process was about to start")

    monkeypatch.setattr(launch, "_launch", refuse)
    monkeypatch.delenv("AGC_MNIST_DIR", raising=False)


def _namespaces():
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    return {entry["name"] for entry in json.loads(out or "[]")} if out else set()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "bogus"], "unknown dataset 'bogus'"),
        (["--decoder", "unbiased"], "needs an exact fixed decoder"),
        (["--dataset", "mnist"], "dataset 'mnist' needs its IDX files"),
        (["--dataset", "mnist", "--data-dir", "/nonexistent"], "no IDX files in /nonexistent"),
        (["--dataset", "digits", "--train-size", "100"], "takes the options"),
        (["--out", "/dev/null/x.json"], "cannot create the directory /dev/null"),
        (["--out", "/sys/x.json"], "cannot write in the directory /sys"),
        (["--out", "run.csv"], "must end in .json"),
        (["--bandwidth", "fast"], "bandwidth must be a rate such as '100mbit'"),
        (["--bandwidth", "0"], "bandwidth must be a positive rate"),
        (["--bandwidth", "0mbit"], "bandwidth must be a positive rate"),
        (["--downlink", "10mbit"], "give bandwidth too"),
        (["--survivors", "0,x"], "--survivors expects comma-separated worker indices"),
        (["--survivors", ","], "survivors must name at least one worker"),
        (["--exits", "1@2,1@3"], "worker 1 given twice"),
        (["--exits", "1@2", "--hangs", "1@3"], "both an exit and a hang"),
        (["--delay", "multiplicative:p=0.1|0.2"], "p has 2 probabilities but there are n=4 workers"),
        (["--delay", "additive:p=0.1,p=0.2"], "p given twice"),
        (["--lr", "inf"], "lr must be a positive finite number"),
        (["--iters", "0"], "iters must be >= 1"),
        (["--worker-timeout", "0"], "worker_timeout must be a positive number of seconds"),
        (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
        (["--s", "4"], "s must be <= 3"),
    ],
)
def test_usage_errors_are_one_line_exit_2_before_any_process(extra, message, capsys, no_launch, tmp_path):
    before = _namespaces()
    assert main([*BASE, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("agc: error: ") and message in err[0], err
    assert _namespaces() == before


def test_out_into_a_directory_is_refused(capsys, no_launch, tmp_path):
    (tmp_path / "x.json").mkdir()
    assert main([*BASE, "--out", str(tmp_path / "x.json")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_bandwidth_without_root_is_one_line_exit_2(capsys, no_launch, monkeypatch):
    monkeypatch.setattr(netns, "available", lambda: (False, "shaped links need root (network namespaces, veth, tc); "
                                                            "the effective uid is 1000"))
    assert main([*BASE, "--bandwidth", "10mbit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["agc: error: bandwidth=10000000 bit/s: shaped links need root (network namespaces, veth, tc); "
                   "the effective uid is 1000"]


def test_a_code_that_float32_would_ruin_is_refused(capsys, no_launch):
    # beyond its float64 limit (max_error=none) the polynomial code with s = 18 cancels terms of 1e14
    argv = ["run", "--workers", "40", "--family", "cyclic", "--encoding", "polynomial", "--ell", "2", "-P", "load=20",
            "-P", "max_error=none", "--s", "18"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "above float32_limit=0.01" in err[0], err
    code = agc.encodings.polynomial(agc.assignments.cyclic(40, 40, 20), 2, max_error=None)
    with pytest.warns(RuntimeWarning, match="float32 messages give a relative gradient error up to"):
        assert RunConfig(code, s=18, float32_limit=10.0).float32_limit == 10.0  # accepted when asked to


def _parsed(*extra):
    return add_run_arguments(argparse.ArgumentParser()).parse_args([*BASE[1:], *extra])


def test_from_args_reaches_every_option_that_run_named_used_to_drop(tmp_path):
    directory = agc.data.FASHION_MNIST_DIR
    if not agc.data.fashion_mnist_installed():
        pytest.skip("Fashion-MNIST is not installed")
    config = RunConfig.from_args(_parsed(
        "--optimizer", "adam", "--hangs", "2@3", "--survivors", "0,1,3", "--dataset", "fashion-mnist",
        "--data-dir", directory, "--train-size", "200", "--lr", "0.001", "--no-preempt", "--check",
        "--worker-timeout", "7", "--timeout", "99", "--delay", "additive:chunk=0.002,p=0.1|0.2|0.3|0.4,extra=0.5",
        "--out", str(tmp_path / "r.json"), "--seed", "3", "--hidden", "8", "--iters", "4", "--deadline", "0.5"))
    assert (config.optimizer, config.hangs, config.survivors) == ("adam", {2: 3}, (0, 1, 3))
    assert config.dataset_options == {"path": directory, "train_size": 200}
    assert (config.lr, config.preempt, config.check, config.worker_timeout, config.timeout) == (0.001, False, True,
                                                                                                7.0, 99.0)
    assert config.delay.params["p"] == (0.1, 0.2, 0.3, 0.4) and config.delay.seed != 3  # seeded from --seed
    assert (config.seed, config.hidden, config.iters, config.deadline) == (3, 8, 4, 0.5)
    assert config.out == str(tmp_path / "r.json")


def test_defaults_come_from_the_dataclass():
    config = RunConfig.from_args(_parsed())
    fields_given = RunConfig(config.scheme)
    assert config.describe() == fields_given.describe()
    assert (config.iters, config.s, config.worker_timeout, config.delay.model) == (50, 0, 30.0, "none")


def test_replace_validates_again():
    config = RunConfig(agc.make_code("cyclic", "rdm", ell=2, n=4, k=4, load=2), s=1)
    assert config.replace(iters=3).iters == 3 and config.replace(iters=3).s == 1
    with pytest.raises(ValueError, match="s must be <= 3"):
        config.replace(s=9)
    assert config.time_limit == 300 + 50 * 30


def test_run_result_frame_and_round_trip():
    iterations = [{"iteration": t, "loss": 1.0 - t / 10, "seconds": 0.1, "broadcast_seconds": None,
                   "gather_seconds": None, "collect_seconds": 0.09, "used": [0, 1] if t else [], "used_bytes": 8 * t,
                   "bytes_received": 8, "header_bytes": 48, "messages": 2, "stale": [], "dead": [2]}
                  for t in range(3)]
    result = RunResult(config={"code": "c"}, d=4, message_floats=2, message_bytes=8, iterations=iterations,
                       loss=[1.0, 0.9, 0.8, 0.7], seconds=[0.1] * 3, elapsed=[0.0, 0.1, 0.2, 0.3], test_accuracy=0.5)
    frame = result.to_frame()
    assert list(frame["used_count"]) == [0, 2, 2] and list(frame["dead_count"]) == [1, 1, 1]
    assert frame["broadcast_seconds"].isna().all() and list(frame["elapsed"]) == [0.0, 0.1, 0.2]
    assert result.empty_iterations == [0]
    written = json.loads(json.dumps(result.to_dict()))
    assert RunResult.from_dict(written).to_dict() == written
    assert result.time_to_loss(0.85) == pytest.approx(0.2) and math.isnan(result.time_to_loss(0.1))
    with pytest.raises(ValueError, match="unknown fields"):
        RunResult.from_dict({**result.to_dict(), "bogus": 1})
