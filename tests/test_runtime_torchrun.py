"""Multi-node for real: the README's two-host ``torchrun`` command, run as two invocations on this
machine (``--master-addr 127.0.0.1``), trains exactly as a one-launcher run with the same seed.

The commands are read from the README, so the documented command is the tested one. Three
options are appended (argparse keeps the last value): ``--stragglers 0`` so that the PS waits for
every worker and the survivors, hence the gradients, do not depend on timing; a short run
(``--iters 3``) of a small model (``--hidden 16``); and a short delay.
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agc._parse import parse_key_values
from agc.runtime import named_code, run

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--stragglers", "0", "--iters", "3", "--hidden", "16", "--delay", "fixed:chunk=0.001"]
# float32 tolerance: both runs do the same float32 operations in the same order on the same data
RTOL = 1e-6


def readme_commands():
    """The host0 command of the README's torchrun block, and host1's as its comment describes."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(torchrun --nnodes 2 .*?)\n# on host1 the same command with (.*?)\n```", text, re.S)
    assert block, "the README's two-host torchrun block is missing"
    host0 = shlex.split(block.group(1).replace("\\\n", " "))
    changes = dict(re.findall(r"(--[\w-]+) (\S+)", block.group(2)))
    host1 = [changes.get(previous, word) for previous, word in zip(["", *host0], host0)]
    return host0, host1


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="loopback torchrun check on Linux only")
def test_two_torchrun_nodes_train_like_one_launcher(tmp_path):
    host0, host1 = readme_commands()
    assert host0[:5] == ["torchrun", "--nnodes", "2", "--node-rank", "0"] and host1[4] == "1"
    workers = int(host0[host0.index("--workers") + 1])
    assert int(host0[6]) + int(host1[6]) == workers + 1  # the world size is n + 1
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    port, out = str(_free_port()), tmp_path / "run.json"

    def local(command):
        command = [torchrun if word == "torchrun" else "127.0.0.1" if word == "host0" else word for word in command]
        command[command.index("--master-port") + 1] = port
        command[command.index("--out") + 1] = str(out)
        return [*command, *SHORT]

    environment = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(ROOT)}
    nodes = [subprocess.Popen(local(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=environment, cwd=tmp_path) for command in (host0, host1)]
    try:
        outputs = [node.communicate(timeout=150)[0] for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(output[-2000:] for output in outputs)
    distributed = json.loads(out.read_text())
    assert distributed["config"]["n"] == workers and len(distributed["iterations"]) == 3
    assert all(record["used"] == list(range(workers)) for record in distributed["iterations"])
    # the same job from one launcher: the code, the seed and every option as the command gave them
    words = host0[host0.index("agc.runtime.launch") + 1:] + SHORT
    option = {word: words[i + 1] for i, word in enumerate(words) if word.startswith("-") and i + 1 < len(words)}
    params = parse_key_values([words[i + 1] for i, word in enumerate(words) if word == "-P"])
    code = named_code(workers, option["--family"], option["--encoding"], int(option["--ell"]), params)
    local_run = run(code, s=0, iters=3, hidden=16, delay=option["--delay"])
    assert np.allclose(distributed["loss"], local_run.loss, rtol=RTOL, atol=0)
    assert distributed["message_bytes"] == local_run.message_bytes
