"""The distributed runtime with real processes: gradients equal the simulator's, dead workers,
late messages, bytes on the wire, start-up that honours the worker timeout, no process left behind.

Each run starts a parameter server and a few workers on the loopback interface; the first run
of the session also starts the forkserver (several seconds), later ones take about a second.
"""

import json
import os
import signal
import threading
import time
import warnings

import pytest
import torch

import agc
from agc.code import block_length
from agc.data import load_digits, split_chunks
from agc.runtime import RunConfig, RunResult, launch, run
from agc.runtime.launch import RunFailed
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


def assert_no_leftovers(result=None):
    if result is not None:
        for pid in result.processes["pids"]:
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
    result = run(code, iters=3, survivors=survivors, hidden=HIDDEN, keep_estimates=True, check=True,
                 delay="shifted_exponential:shift=0.002,scale=0.004", worker_timeout=20, timeout=120)
    expected = _simulated_estimates(code, survivors, 3)
    for t, record in enumerate(result.iterations):
        assert record["used"] == survivors and record["tags"] == [t] * 3
        estimate = torch.tensor(result.estimates[t], dtype=torch.float32)
        assert torch.allclose(estimate, expected[t], rtol=RTOL, atol=ATOL), float((estimate - expected[t]).abs().max())
        assert record["simulator_max_abs_diff"] <= ATOL
        assert record["error"] > 1e-3  # an approximate code: the decoding really mattered
        assert record["err_star"] == pytest.approx(agc.optimal_error(code, survivors, normalized=True))
    assert_no_leftovers(result)


def test_bytes_on_the_wire_are_ceil_d_over_ell_floats():
    code = agc.make_code("cyclic", "rdm", ell=3, seed=0, n=4, k=4, load=3)
    result = run(code, iters=4, s=1, hidden=HIDDEN, delay="multiplicative:chunk=0.003,p=0.3,factor=4",
                 worker_timeout=20, timeout=120)
    m = block_length(result.d, 3)
    assert result.d == 1210 and result.message_floats == m == 404
    for record in result.iterations:
        assert record["message_floats"] == [m]
        assert len(record["used"]) == 3
        assert record["used_bytes"] == 4 * m * len(record["used"])
        assert record["bytes_received"] == 4 * m * record["messages"]
        assert record["header_bytes"] == 24 * record["messages"]
    frame = result.to_frame()
    assert list(frame["used_bytes"]) == [4 * m * 3] * 4 and list(frame["iteration"]) == [0, 1, 2, 3]
    assert frame["elapsed"].iloc[-1] == pytest.approx(sum(result.seconds[:-1]))
    assert_no_leftovers(result)


def test_broadcast_and_gather_split_the_iteration():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    result = run(code, iters=4, s=1, hidden=HIDDEN, delay="fixed:chunk=0.01", worker_timeout=20, timeout=120)
    assert result.same_clock
    for record in result.iterations:
        # a worker holding 2 chunks sleeps 2 × 10 ms after receiving θ_t and before answering
        busy = [sent - got for sent, got in zip(record["sent_seconds"], record["received_seconds"])]
        assert min(busy) >= 0.02
        assert 0 <= record["broadcast_seconds"] <= record["collect_seconds"] <= record["seconds"]
        assert record["broadcast_seconds"] + record["gather_seconds"] == pytest.approx(max(record["arrival_seconds"]))
        assert max(record["arrival_seconds"]) <= record["collect_seconds"]
    assert_no_leftovers(result)


def test_late_messages_are_drained_and_never_used():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # slow workers take 6 × 2 × 15 ms, several iterations of the PS that keeps the first 2 of 4, and
    # without preemption they finish and send: their messages arrive late
    result = run(code, iters=10, s=2, hidden=HIDDEN, check=True, preempt=False,
                 delay="multiplicative:chunk=0.015,p=0.4,factor=6", worker_timeout=20, timeout=120)
    stale = [entry for record in result.iterations for entry in record["stale"]]
    assert stale, "the delays should have produced late messages"
    for t, record in enumerate(result.iterations):
        assert record["tags"] == [t] * len(record["used"])
        assert all(tag < t for _, tag in record["stale"])
        assert not set(record["used"]) & {worker for worker, tag in record["stale"] if tag == t}
        # a payload computed from other parameters would not match the simulator's estimate
        assert record["simulator_max_abs_diff"] <= ATOL
    assert all(tag < len(result.iterations) for _, tag in result.shutdown["stale"])
    assert_no_leftovers(result)


def test_dead_worker_is_a_permanent_straggler(tmp_path):
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    out = tmp_path / "run.json"
    result = run(code, iters=6, s=1, hidden=HIDDEN, exits={1: 2}, out=out, worker_timeout=20,
                 delay="fixed:chunk=0.005", timeout=120)
    assert RunResult.from_dict(json.loads(out.read_text())).to_dict() == result.to_dict()
    assert list(result.dead) == ["1"] and result.dead["1"]["iteration"] >= 2
    assert result.dead["1"]["phase"] == "iterations"
    assert result.status[1] == "dead" and result.status.count("stopped") == 3
    noticed = result.dead["1"]["iteration"]  # when its closed connection reached the PS: a matter of timing
    for record in result.iterations[3:]:
        assert 1 not in record["used"] and len(record["used"]) == 3
        assert (1 in record["dead"]) == (record["iteration"] >= noticed)
    assert result.processes["exit_codes"] == [0] * 5
    assert result.shutdown["unresponsive"] == []
    assert_no_leftovers(result)


def test_hung_worker_is_presumed_dead_and_nothing_waits_forever():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # s = 0: the PS waits for every live worker, so it must give up on the frozen one
    result = run(code, iters=5, hidden=HIDDEN, hangs={3: 2}, worker_timeout=3, delay="fixed:chunk=0.005",
                 timeout=120)
    assert result.silent == {"3": 2} and result.dead == {}
    assert [record["used"] for record in result.iterations] == [[0, 1, 2, 3]] * 2 + [[0, 1, 2]] * 3
    # the worker timeout is the PS's patience: the iteration that gave up on it waited that long, a ratio
    assert result.iterations[2]["seconds"] >= 3 > 10 * max(r["seconds"] for r in result.iterations[3:])
    assert result.shutdown["unresponsive"] == [3]
    assert result.processes["exit_codes"][:4] == [0] * 4 and result.processes["exit_codes"][4] != 0
    assert_no_leftovers(result)


def test_worker_dead_or_frozen_at_start_up_is_a_straggler_from_the_start():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    began = time.monotonic()
    result = run(code, iters=3, s=1, hidden=HIDDEN, exits={0: -1}, hangs="2@start",
                 worker_timeout=3, delay="fixed:chunk=0.005", timeout=120)
    # the frozen worker costs one worker timeout at start-up, not the process group's 300 s
    assert time.monotonic() - began < 60
    assert result.dead["0"]["phase"] == "start-up" and result.silent == {"2": -1}
    assert result.warmup_seconds[0] is None and result.warmup_seconds[2] is None
    assert [record["used"] for record in result.iterations] == [[1, 3]] * 3  # min(n - s, live)
    assert result.loss[-1] < result.loss[0]
    assert_no_leftovers(result)


def test_no_worker_ready_fails_fast_and_says_so():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=3, k=3, load=2)
    began = time.monotonic()
    with pytest.raises(RunFailed, match="no worker reported ready within worker_timeout=2 s"):
        run(code, iters=3, hidden=HIDDEN, hangs="0@start,1@start,2@start", worker_timeout=2, timeout=120)
    assert time.monotonic() - began < 40
    assert_no_leftovers()


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
            run(code, iters=200, s=1, hidden=HIDDEN, delay="fixed:chunk=0.01", worker_timeout=20, timeout=120)
        except RunFailed as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=target)
    thread.start()
    ps = _ranks(5)[0]  # rank 0 is started first
    time.sleep(1.0)
    os.kill(ps, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["error"].startswith("the parameter server was killed by signal SIGKILL (no traceback")
    assert_no_leftovers()


def test_parameter_server_error_is_one_line_with_the_traceback_attached():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=3, k=3, load=2)
    # a training set of one sample cannot fill k = 3 chunks: the PS finds out and fails
    with pytest.raises(RunFailed) as failure:
        run(code, iters=2, hidden=HIDDEN, dataset_options={"test_size": 0.9993})
    assert str(failure.value).startswith("the parameter server failed: ValueError")
    assert any("Traceback" in note for note in failure.value.__notes__)
    assert_no_leftovers()


def test_more_dead_than_stragglers_and_deadline():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=4, k=4, load=2)
    # two workers die but s = 1: the PS decodes from the two live ones instead of hanging
    result = run(code, iters=4, s=1, hidden=HIDDEN, exits="0@1,3@1", worker_timeout=20, timeout=120)
    assert sorted(result.dead) == ["0", "3"]
    assert result.iterations[-1]["used"] == [1, 2]
    # with a deadline the PS keeps whatever arrived by then
    result = run(code, iters=4, deadline=0.08, hidden=HIDDEN, worker_timeout=20, timeout=120,
                 delay="multiplicative:chunk=0.005,p=0.5,factor=20")
    for record in result.iterations:
        assert all(seconds <= 0.08 for seconds in record["arrival_seconds"])
    assert_no_leftovers(result)


def test_runs_that_use_no_message_do_not_succeed(tmp_path):
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=3, k=3, load=2)
    out = tmp_path / "never.json"
    with pytest.raises(RunFailed, match="no iteration used a message"):
        run(code, iters=3, deadline=0.01, delay="fixed:chunk=0.2", hidden=HIDDEN, out=out)
    assert not out.exists()
    with pytest.raises(ValueError, match="survivors must name at least one worker"):
        run(code, iters=3, survivors=[])
    # the first iteration's messages miss a short deadline, the later ones are quick: a warning counts them
    with pytest.warns(RuntimeWarning, match=r"1 of 3 iterations used no message"):
        result = run(code, iters=3, deadline=0.3, hidden=HIDDEN, worker_timeout=20, **_first_iteration_slow())
    assert result.empty_iterations == [0]
    assert_no_leftovers(result)


def _first_iteration_slow():
    """Options under which only iteration 0 is slow: a per-worker p is not per iteration, so use
    seeds: find a seed whose additive draws make every worker slow at t = 0 and none later.
    """
    from agc.runtime.delays import Delay

    for seed in range(10_000):
        delay = Delay("additive", {"chunk": 0.001, "p": 0.5, "extra": 0.6}, streams(seed).delay_seed)
        slow = [[delay.slow(j, t) for j in range(3)] for t in range(3)]
        if all(slow[0]) and not any(slow[1]) and not any(slow[2]):
            return {"seed": seed, "delay": "additive:chunk=0.001,p=0.5,extra=0.6"}
    raise AssertionError("no such seed")


def test_local_entry_point_and_bad_arguments(tmp_path, capsys):
    out = tmp_path / "cli.json"
    assert launch.main(["--workers", "3", "--family", "cyclic", "--encoding", "stacking", "--ell", "1",
                        "-P", "load=1", "--s", "1", "--iters", "2", "--hidden", str(HIDDEN),
                        "--out", str(out)]) == 0
    assert "2 iterations" in capsys.readouterr().out
    assert json.loads(out.read_text())["config"]["n"] == 3
    assert launch.main(["--workers", "3", "--family", "cyclic", "--encoding", "stacking", "--ell", "1",
                        "-P", "load=1", "--s", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["agc.runtime.launch: error: s must be <= 2, got 3"]
    code = agc.make_code("cyclic", "stacking", ell=1, n=3, k=3, load=1)
    with pytest.raises(ValueError, match="unknown delay model 'gamma'"):
        run(code, delay="gamma")
    with pytest.raises(ValueError, match="exits: worker must be <= 2"):
        run(code, exits={5: 1})
    assert_no_leftovers()


def test_the_float32_check_warns_before_any_process():
    code = agc.encodings.polynomial(agc.assignments.cyclic(30, 30, 10), 2)  # s = 8: float32 error ~5e-4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RunConfig(code, s=8)
    assert any("float32 messages give a relative gradient error" in str(w.message) for w in caught)
