"""A run over a shaped link (``bandwidth=``): every used message is ``4·⌈d/ℓ⌉`` payload bytes, the bytes
the PS counts are what the link's tbf counters carried (less the TCP/IP/Ethernet headers), the
broadcast cannot beat the link's rate, and no namespace is left behind.

Needs root and iproute2 (skipped otherwise, with the reason).
"""

import json
import os
import subprocess

import pytest

import agc
from agc.code import block_length
from agc.runtime import run
from agc.runtime.netns import ETHERNET_HEADER, available, tcp_payload_rate
from agc.runtime.protocol import CONTROL_BYTES, HEADER_BYTES

psutil = pytest.importorskip("psutil")
OK, REASON = available()
pytestmark = pytest.mark.skipif(not OK, reason=REASON)
#: Headers tbf counts in every packet beyond its TCP payload: Ethernet, IPv4, TCP and its timestamp option.
PACKET_HEADERS = ETHERNET_HEADER + 20 + 20 + 12
#: gloo's own framing of one send (its preamble) and the occasional SACK option: at most this many
#: bytes per message on top of what the PS counts (measured about 100-330 B).
FRAMING = 512


def _ours():
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {e["name"] for e in json.loads(out or "[]") if e["name"].startswith(f"agc-{os.getpid()}-")}


def test_bytes_on_a_shaped_link_match_the_tbf_counters():
    code = agc.make_code("cyclic", "rdm", ell=2, seed=0, n=3, k=3, load=2)
    result = run(code, iters=4, hidden=16, delay="fixed:chunk=0.002", bandwidth="20mbit", worker_timeout=20,
                 timeout=120)
    assert _ours() == set()
    m = block_length(result.d, 2)
    for record in result.iterations:
        assert record["used_bytes"] == 4 * m * len(record["used"]) and record["message_floats"] == [m]
    network = result.network
    assert (network["uplink"], network["downlink"]) == (20_000_000, 20_000_000)
    up, down = network["iterations"]["up"], network["iterations"]["down"]
    assert up["drops"] == down["drops"] == 0
    # workers -> PS: every payload and header the PS consumed (iterations and shutdown) and each BYE
    messages = sum(r["messages"] for r in result.iterations) + result.shutdown["messages"]
    counted = (sum(r["bytes_received"] + r["header_bytes"] for r in result.iterations)
               + result.shutdown["bytes_received"] + HEADER_BYTES * (result.shutdown["messages"] + code.n))
    carried = up["bytes"] - PACKET_HEADERS * up["packets"]
    assert counted <= carried <= counted + FRAMING * (messages + code.n)
    # PS -> workers: a control message and θ_t per step, a control message per STOP
    sent = sum(r["downlink_bytes"] for r in result.iterations) + CONTROL_BYTES * code.n
    assert sent <= down["bytes"] - PACKET_HEADERS * down["packets"] <= sent + FRAMING * (2 * 4 + 1) * code.n
    # with s = 0 every worker is used: the broadcast of n·4d bytes to them cannot beat the link, less what
    # the token bucket lets through at once
    floor = (code.n * (4 * result.d + CONTROL_BYTES) - network["downlink_burst"]) * 8 / tcp_payload_rate(20_000_000)
    assert all(r["broadcast_seconds"] >= floor for r in result.iterations)
    assert _left_behind() == []


def _left_behind():
    """Live descendants other than multiprocessing's forkserver and resource tracker (shared by every run)."""
    alive = []
    for process in psutil.Process().children(recursive=True):
        try:
            command = " ".join(process.cmdline())
            if process.status() != psutil.STATUS_ZOMBIE and not (("forkserver" in command and process.ppid() == os.getpid())
                                                                 or "resource_tracker" in command):
                alive.append(process.pid)
        except psutil.NoSuchProcess:
            continue
    return alive
