"""Killing the launcher kills the run: SIGTERM, Ctrl-C and SIGKILL of ``agc run``, with and without a
shaped link, leave no rank, forkserver, guardian or network namespace behind.

The launcher runs as a subprocess of the test (in its own session, as a shell's background job
would); its descendants are recorded with psutil once the ranks exist, and must all be gone
within a few seconds of the signal.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agc.runtime.launch import RunFailed, _Watch
from agc.runtime.netns import available

psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "agc.cli", "run", "--workers", "4", "--family", "cyclic", "--encoding", "rdm",
           "--ell", "2", "-P", "load=2", "--s", "1", "--hidden", "16", "--iters", "2000", "--delay",
           "fixed:chunk=0.01"]
OK, REASON = available()
needs_network = pytest.mark.skipif(not OK, reason=REASON)
#: Seconds within which every process of a killed run must be gone (the PS's watchdog polls 2x a second).
GONE_WITHIN = 10.0


def _start(tmp_path, *extra):
    out = tmp_path / "run.json"
    launcher = subprocess.Popen([*COMMAND, *extra, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True, cwd=tmp_path,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    me = psutil.Process(launcher.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        descendants = me.children(recursive=True)
        ranks = [p for p in descendants if p.ppid() != launcher.pid]  # forked by the forkserver
        if len(ranks) >= 5:
            time.sleep(1.5)  # into the iterations
            return launcher, me.children(recursive=True), out
        time.sleep(0.1)
    launcher.kill()
    raise AssertionError(f"the ranks did not start: {launcher.communicate()}")


def _all_gone(processes):
    _, alive = psutil.wait_procs(processes, timeout=GONE_WITHIN)
    return [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def _namespaces(pid):
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {entry["name"] for entry in json.loads(out or "[]") if entry["name"].startswith(f"agc-{pid}-")}


def test_sigterm_stops_every_rank_and_exits_143(tmp_path):
    launcher, processes, out = _start(tmp_path)
    launcher.send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=30)
    assert launcher.returncode == 143
    assert stderr.strip().splitlines() == ["agc: terminated (SIGTERM): every rank was stopped"]
    assert _all_gone(processes) == []
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_ctrl_c_prints_one_line(tmp_path):
    launcher, processes, _ = _start(tmp_path)
    os.killpg(launcher.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = launcher.communicate(timeout=30)
    assert launcher.returncode == 130
    assert stderr.strip().splitlines() == ["agc: interrupted: every rank was stopped"]
    assert _all_gone(processes) == []


def test_sigkill_of_the_launcher_ends_the_ranks(tmp_path):
    launcher, processes, out = _start(tmp_path)
    killed = time.monotonic()
    launcher.kill()
    launcher.communicate(timeout=30)
    assert _all_gone(processes) == []
    assert time.monotonic() - killed < GONE_WITHIN
    assert not out.exists()


@needs_network
def test_sigterm_with_a_shaped_link_removes_the_namespaces(tmp_path):
    launcher, processes, _ = _start(tmp_path, "--bandwidth", "20mbit")
    assert len(_namespaces(launcher.pid)) == 2
    launcher.send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=30)
    assert launcher.returncode == 143, stderr
    assert _all_gone(processes) == []
    assert _namespaces(launcher.pid) == set()


@needs_network
def test_sigkill_with_a_shaped_link_the_guardian_removes_the_namespaces(tmp_path):
    launcher, processes, _ = _start(tmp_path, "--bandwidth", "20mbit")
    assert len(_namespaces(launcher.pid)) == 2
    launcher.kill()
    launcher.communicate(timeout=30)
    assert _all_gone(processes) == []  # the guardian included
    deadline = time.monotonic() + GONE_WITHIN
    while _namespaces(launcher.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _namespaces(launcher.pid) == set()


def _watch(exit_codes, joined, worker_timeout=1.0):
    processes = [SimpleNamespace(exitcode=code) for code in exit_codes]
    config = SimpleNamespace(worker_timeout=worker_timeout)
    watch = _Watch(config, None, processes, {})
    watch.joined = set(joined)
    return watch


def test_a_rank_that_ends_before_the_group_forms_stops_the_run_at_once():
    with pytest.raises(RunFailed, match=r"worker 1 \(rank 2\) was killed by signal SIGKILL .* before the process "
                                        "group formed"):
        _watch([None, None, -9, None], joined=[])._check_formation(time.monotonic(), 10.0)
    with pytest.raises(RunFailed, match=r"the parameter server \(rank 0\) exited with code 1 before"):
        _watch([1, None], joined=[1])._check_formation(time.monotonic(), 10.0)
    with pytest.raises(RunFailed, match=r"did not form within 10 s \(ranks \[2\] had not joined\)"):
        _watch([None, None, None], joined=[0, 1])._check_formation(time.monotonic() - 11, 10.0)
    _watch([None, None], joined=[0])._check_formation(time.monotonic(), 10.0)  # still in time: nothing raised
