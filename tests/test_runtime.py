"""The distributed runtime with real processes: gradients equal the simulator's, dead workers,
late messages, bytes on the wire, no process left behind.

Each run starts a parameter server and a few workers on the loopback interface; the first run
of the session also starts the forkserver (several seconds), later ones take about a second.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import agc
from agc.code import block_length
from agc.data import load_digits, split_chunks
from agc.runtime import DELAY_MODELS, launch, parse_delay, parse_exits, run
from agc.seeds import streams
from agc.training import ChunkedData, coded_step, make_optimizer, mlp

psutil = pytest.importorskip("psutil")

HIDDEN = 16  # d = 75·16 + 10 = 1210 parameters: quick, and ⌈d/3⌉ needs padding
# float32 tolerance: the runtime computes each worker's chunk gradients and encodes them on the
# worker, the simulator does one batched pass; the sums differ in rounding order only
# (about 1e-7 relative per operation), and three SGD steps keep that below 1e-5.
RTOL, ATOL = 1e-4, 1e-6


def _descendants():
    """Live processes started under this one, except multiprocessing's forkserver and resource
    tracker themselves (they serve every run of the session); the ranks forked by the forkserver
    are its children, so they are counted.
    """
    me = psutil.Process()
    alive = []
    for process in me.children(recursive=True):
        try:
            helper = process.ppid() == me.pid and any(name in " ".join(process.cmdline())
                                                      for name in ("forkserver", "resource_tracker"))
            if not helper and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process.pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _assert_no_leftovers(results):
    for pid in results["processes"]["pids"]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    assert _descendants() == []


def _simulated_estimates(code, survivors, iters, seed=0):
    """What the simulator computes for the same code, data, seeds and survivors."""
    data = load_digits()
    seeds = streams(seed)
    model = mlp(data.features, hidden=HIDDEN, classes=data.classes, seed=seeds.model_seed)
    chunks = split_chunks(data.X_train.shape[0], code.k, seed=seeds.split())
    batch = ChunkedData(data.X_train, data.y_train, chunks)
    optimizer = make_optimizer("sgd", model.parameters())
    estimates = []
    for _ in range(iters):
        G, _ = batch.gradients(model)
        estimates.append(coded_step(model, optimizer, G, code, survivors).estimate)
    return estimates


def test_decoded_gradient_equals_simulator_for_forced_survivors():
    code = agc.make_code("cyclic", "rdm", ell=3, seed=1, n=5, k=5, load=3)
    survivors = [0, 2, 3]
    results = run(code, iters=3, survivors=survivors, hidden=HIDDEN, keep_estimates=True, check=True,
                  delay="shifted_exponential:shift=0.005,scale=0.01", worker_timeout=20, timeout=120)
    expected = _simulated_estimates(code, survivors, 3)
    for t, record in enumerate(results["iterations"]):
        assert record["used"] == survivors and record["tags"] == [t] * 3
        estimate = torch.tensor(results["estimates"][t])
        assert torch.allclose(estimate, expected[t], rtol=RTOL, atol=ATOL), float((estimate - expected[t]).abs().max())
        assert record["simulator_max_abs_diff"] <= ATOL
        assert record["error"] > 1e-3  # an approximate code: the decoding really mattered
        assert record["err_star"] == pytest.approx(agc.optimal_error(code, survivors, normalized=True))
    _assert_no_leftovers(results)


def test_bytes_on_the_wire_are_ceil_d_over_ell_floats():
    code = agc.make_code("cyclic", "rdm", ell=3, seed=0, n=4, k=4, load=3)
    results = run(code, iters=4, s=1, hidden=HIDDEN, delay="bernoulli:base=0.01,p=0.3,factor=4",
                  worker_timeout=20, timeout=120)
    m = block_length(results["d"], 3)
    assert results["d"] == 1210 and results["message_floats"] == m == 404
    for record in results["iterations"]:
        assert record["message_floats"] == [m]
        assert len(record["used"]) == 3
        assert record["used_bytes"] == 4 * m * len(record["used"])
        assert record["bytes_received"] == 4 * m * record["messages"]
        assert record["header_bytes"] == 8 * record["messages"]
    _assert_no_leftovers(results)


def test_late_messages_are_drained_and_never_used():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # slow workers take 6 × 30 ms, several iterations of the PS that keeps the first 2 of 4, and
    # without preemption they finish and send: their messages arrive late
    results = run(code, iters=10, s=2, hidden=HIDDEN, check=True, preempt=False,
                  delay="bernoulli:base=0.03,p=0.4,factor=6", worker_timeout=20, timeout=120)
    stale = [entry for record in results["iterations"] for entry in record["stale"]]
    assert stale, "the delays should have produced late messages"
    for t, record in enumerate(results["iterations"]):
        assert record["tags"] == [t] * len(record["used"])
        assert all(tag < t for _, tag in record["stale"])
        assert not set(record["used"]) & {worker for worker, tag in record["stale"] if tag == t}
        # a payload computed from other parameters would not match the simulator's estimate
        assert record["simulator_max_abs_diff"] <= ATOL
    assert all(tag < len(results["iterations"]) for _, tag in results["shutdown"]["stale"])
    _assert_no_leftovers(results)


def test_dead_worker_is_a_permanent_straggler(tmp_path):
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    out = tmp_path / "run.json"
    results = run(code, iters=6, s=1, hidden=HIDDEN, exits={1: 2}, out=out, worker_timeout=20,
                  delay="none:base=0.01", timeout=120)
    assert json.loads(out.read_text()) == results
    assert list(results["dead"]) == ["1"] and results["dead"]["1"]["iteration"] >= 2
    assert results["status"][1] == "dead" and results["status"].count("stopped") == 3
    for record in results["iterations"][3:]:
        assert 1 not in record["used"] and 1 in record["dead"] and len(record["used"]) == 3
    assert results["processes"]["exit_codes"] == [0] * 5
    assert results["shutdown"]["unresponsive"] == []
    _assert_no_leftovers(results)


def test_hung_worker_is_presumed_dead_and_nothing_waits_forever():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # s = 0: the PS waits for every live worker, so it must give up on the frozen one
    results = run(code, iters=5, hidden=HIDDEN, hangs={3: 2}, worker_timeout=1.5, delay="none:base=0.01",
                  timeout=120)
    assert results["silent"] == {"3": 2} and results["dead"] == {}
    assert [record["used"] for record in results["iterations"]] == [[0, 1, 2, 3]] * 2 + [[0, 1, 2]] * 3
    assert 1.5 <= results["iterations"][2]["seconds"] < 10
    assert results["shutdown"]["unresponsive"] == [3]
    assert results["processes"]["exit_codes"][:4] == [0] * 4 and results["processes"]["exit_codes"][4] != 0
    _assert_no_leftovers(results)


def _ranks(count, limit=60.0):
    """Pids of the ``count`` rank processes (grandchildren, forked by the forkserver), oldest first."""
    me = psutil.Process()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ranks = sorted((p for p in me.children(recursive=True) if p.ppid() != me.pid), key=lambda p: p.create_time())
        if len(ranks) == count:
            return [p.pid for p in ranks]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} rank processes")


def test_parameter_server_killed_ends_every_process():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    outcome = {}

    def target():
        try:
            run(code, iters=200, s=1, hidden=HIDDEN, delay="none:base=0.02", worker_timeout=20, timeout=120)
        except RuntimeError as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=target)
    thread.start()
    ps = _ranks(5)[0]  # rank 0 is started first
    time.sleep(1.0)
    os.kill(ps, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert "parameter server failed with exit code -9" in outcome["error"]
    assert _descendants() == []


def test_more_dead_than_stragglers_and_deadline():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # two workers die but s = 1: the PS decodes from the two live ones instead of hanging
    results = run(code, iters=4, s=1, hidden=HIDDEN, exits="0@1,3@1", worker_timeout=20, timeout=120)
    assert sorted(results["dead"]) == ["0", "3"]
    assert results["iterations"][-1]["used"] == [1, 2]
    # with a deadline the PS keeps whatever arrived by then
    results = run(code, iters=4, deadline=0.08, hidden=HIDDEN, worker_timeout=20, timeout=120,
                  delay="bernoulli:base=0.01,p=0.5,factor=20")
    for record in results["iterations"]:
        assert all(seconds <= 0.08 for seconds in record["arrival_seconds"])
    _assert_no_leftovers(results)


def test_local_entry_point_and_bad_arguments(tmp_path, capsys):
    out = tmp_path / "cli.json"
    assert launch.main(["--workers", "3", "--family", "cyclic", "--encoding", "stacking", "--ell", "1",
                        "-P", "load=1", "--s", "1", "--iters", "2", "--hidden", str(HIDDEN),
                        "--out", str(out)]) == 0
    assert "2 iterations" in capsys.readouterr().out
    assert json.loads(out.read_text())["config"]["n"] == 3
    code = agc.make_code("cyclic", "stacking", ell=1, n=3, k=3, load=1)
    with pytest.raises(ValueError, match="s must be <= 2"):
        run(code, s=3)
    with pytest.raises(ValueError, match="unknown delay model 'gamma'"):
        run(code, delay="gamma")
    with pytest.raises(ValueError, match="exits: worker must be <= 2"):
        run(code, exits={5: 1})
    with pytest.raises(ValueError, match="workers=4 but the code"):
        launch.run_named(4, "cyclic", "stacking", 1, params={"n": 5, "load": 1})
    assert set(DELAY_MODELS) == {"none", "shifted_exponential", "bernoulli"}
    assert parse_exits("1@3", 3) == {1: 3} and parse_delay(None).model == "none"


@pytest.mark.skipif(sys.platform != "linux", reason="loopback torchrun check on Linux only")
def test_torchrun(tmp_path):
    out = tmp_path / "torchrun.json"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    command = [torchrun, "--standalone", "--nnodes", "1", "--nproc-per-node", "3", "-m", "agc.runtime.launch",
               "--workers", "2", "--family", "cyclic", "--encoding", "rdm", "--ell", "2", "-P", "load=2",
               "--stragglers", "1", "--iters", "3", "--hidden", str(HIDDEN), "--exits", "1@1", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=150,
                               env={**os.environ, "GLOO_SOCKET_IFNAME": "lo"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads(out.read_text())
    assert list(results["dead"]) == ["1"] and len(results["iterations"]) == 3
