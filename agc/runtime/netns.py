r"""Shaped network links for the parameter-server runtime: network namespaces, a veth pair and tbf.

On loopback a message costs nothing, so the point of the paper (each worker sends
:math:`d/\ell` numbers instead of :math:`d`) never shows in the time of an iteration. This
module builds, for the duration of a ``with`` block, a link with a bandwidth between the
parameter server (rank 0) and the workers (ranks ``1..n``)::

         namespace <prefix>-<pid>-<token>-ps             namespace <prefix>-<pid>-<token>-wk
       +-------------------------------+               +-----------------------------------+
       |  rank 0: parameter server     |   downlink    |  ranks 1..n: the workers          |
       |                            [tbf]=============>|                                   |
       |  <prefix>-ps  10.213.0.1/30   |     veth      |  <prefix>-wk  10.213.0.2/30       |
       |                               |<=============[tbf]                                |
       |  lo (up)                      |    uplink     |  lo (up): worker <-> worker       |
       +-------------------------------+               +-----------------------------------+

* Two network namespaces joined by one veth pair. ``tbf`` (token bucket filter) shapes what
  leaves an interface, so the workers' end is shaped at ``uplink`` (it is the PS's *incoming*
  link) and the PS's end at ``downlink`` (the broadcast of :math:`\theta_t`). All the workers'
  messages queue at the same bottleneck into the PS, as in a parameter server whose network
  card is the bottleneck: ``n`` messages of ``b`` bytes take ``n·b·8/uplink`` seconds however
  they interleave.
* One namespace for all the workers, not one per worker: the protocol has no worker-to-worker
  traffic that must be shaped (gloo's full mesh opens worker-to-worker connections at start-up;
  inside the workers' namespace they go over its loopback, unshaped and unused afterwards), a
  per-worker link would need a bridge and ``n`` more qdiscs, and it would model a different
  network (each worker's own card as the bottleneck). Every worker sees the same interface
  name, so ``GLOO_SOCKET_IFNAME`` is one value for all of them.
* The veth pair is created directly inside the two namespaces (``ip -n <ps> link add ... peer
  ... netns <wk>``), never in the host's namespace, so its names cannot collide with the host's
  or another run's interfaces; deleting the namespaces deletes it. The addresses are the first
  ``/30`` of ``10.213.0.0/16`` (then of ``10.214.0.0/16``) that no address or route of the host
  overlaps. The namespaces have no route to the host, so this check is only a guard against a
  confusing reading of ``ip`` outputs; concurrent runs use the same addresses in their own
  namespaces without interfering.

**What tbf counts.** tbf charges every packet's length at the interface, Ethernet header
included: a full frame is ``MTU + 14 = 1514`` bytes and carries ``MTU − 52 = 1448`` bytes of TCP
payload (20 bytes of IP, 20 of TCP and 12 of the timestamp option). A bulk TCP transfer therefore
moves :math:`r \cdot 1448/1514 \approx 0.956\,r` bits of payload per second at a configured rate
:math:`r` (:func:`tcp_payload_rate`); measured at 20 mbit: 19.13 Mbit/s of payload.

**Burst.** The bucket holds ``burst`` bytes: after an idle period that many bytes leave at once,
then the rate applies. tbf's manual asks for ``burst ≥ rate/HZ`` (4 ms of traffic at HZ = 250);
with high-resolution timers (this kernel) less suffices, and a smaller bucket makes the time of
a short message closer to ``bytes·8/rate``. :func:`default_burst` is 1 ms of traffic, at least two
full frames. Measured payload rates of one bulk TCP flow: at 100 mbit (95.65 Mbit/s possible) a
128 µs bucket gives 83.6, a 640 µs one 95.4, the 1 ms default 95.65-95.68; at 1 gbit (956
possible) a 13 µs bucket gives 391, a 64 µs one 923-946 and the 1 ms default 950-957. A message sent
after an idle period is at most ``burst·8/rate`` (1 ms) faster than ``bytes·8/rate``.

**Limit.** The queue holds ``limit`` bytes; a packet beyond is dropped and its TCP flow backs off
(a retransmission, a halved window), which makes message times irregular. Every byte waiting in
the queue belongs to a TCP sender's unacknowledged data, which is bounded by its send buffer
(``net.ipv4.tcp_wmem``, at most 4 MiB here), so a limit of ``flows × 4 MiB`` cannot drop. The
default :data:`DEFAULT_LIMIT` (128 MiB) covers 32 concurrent senders at full buffers; a qdisc
allocates nothing for its limit, only for packets actually queued. Measured at 100 mbit with 1, 8
and 32 concurrent flows of 3 MB: a 30 kB limit dropped 591, 7149 and 39 236 packets (aggregate
payload 93.8, 77.2 and 84.7 Mbit/s of 95.65), a 200 kB limit 0, 2761 and 9079, a 1 MB limit 0, 0
and 767, a 100 MB limit none (the largest backlog sampled was 0.5 MB: TCP's small-queue limit
keeps each flow's share of the queue short). :meth:`ShapedNetwork.stats` reports the drops, so
that a run can check there were none.

**Both directions at once.** The uplink's acknowledgements travel on the downlink's queue and
the converse, so when both directions carry bulk data each one's acknowledgements wait behind
the other's data: measured, each direction then gets 84-98 % of its payload rate (20 and
100 mbit, one or four flows each way) instead of 99-100 % alone. In the PS protocol this happens
when fast workers upload while the PS is still sending :math:`\theta_t` to the others.

**Running processes inside.** ``ip netns exec <namespace> <command>`` (:meth:`ShapedNetwork.exec_prefix`)
starts a command inside; a process started by :mod:`multiprocessing` (forkserver or spawn) calls
:func:`enter_namespace` first thing, before it creates any socket or thread: ``setns(2)`` moves
the calling thread only, and threads inherit the namespace of the thread that starts them.

**Cleanup.** On leaving the ``with`` block (normally, by an exception, ``KeyboardInterrupt``, or a
``SIGTERM``, which the context turns into ``SystemExit(143)`` while it is active and ``SIGTERM`` has
its default action) both namespaces are deleted, with ``SIGINT`` and ``SIGTERM`` held back until
the deletion is done; a pending signal acts afterwards. A process killed by ``SIGKILL`` leaves its
namespaces behind: :func:`remove_stale` deletes those of dead owners, by exact name.

**Naming scheme.** Namespaces ``<prefix>-<pid>-<token>-ps`` and ``<prefix>-<pid>-<token>-wk``,
where ``pid`` is the creating process and ``token`` six random hexadecimal digits; interfaces
``<prefix>-ps`` and ``<prefix>-wk`` (at most 15 characters, unique within their namespace).

Examples
--------
>>> parse_rate("100mbit")
100000000
>>> with shaped_network("100mbit", "1gbit") as net:  # doctest: +SKIP
...     print(net.ps_address, net.uplink, net.downlink)
10.213.0.1 100000000 1000000000
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import math
import multiprocessing as mp
import os
import re
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction

from agc._checks import check_int
from agc.runtime.lifeline import alive, signals_deferred, sigterm_raises

#: ``CLONE_NEWNET`` of ``<sched.h>``: the namespace type given to ``setns(2)``.
CLONE_NEWNET = 0x40000000
#: Where ``ip netns add`` mounts a named namespace.
NETNS_DIR = "/var/run/netns"
#: MTU of both veth ends (Ethernet's).
MTU = 1500
#: Bytes of the Ethernet header that tbf counts in every packet.
ETHERNET_HEADER = 14
#: Smallest and largest accepted rates, in bits per second (8 kbit/s, 100 gbit/s).
MIN_RATE, MAX_RATE = 8_000, 100 * 10**9
#: Seconds of traffic the token bucket holds by default (:func:`default_burst`).
BURST_SECONDS = 1e-3
#: Default queue limit of each tbf, in bytes: 32 TCP senders with full 4 MiB send buffers.
DEFAULT_LIMIT = 128 * 2**20
#: Subnets whose ``/30`` pieces are tried in order for the link's two addresses.
SUBNETS = ("10.213.0.0/16", "10.214.0.0/16")
#: Seconds any one ``ip`` or ``tc`` command may take.
COMMAND_TIMEOUT = 30.0
#: The two ends of the link, and which end each direction of traffic leaves from.
SIDES = ("ps", "workers")
DIRECTIONS = {"up": ("workers", "ps"), "down": ("ps", "workers")}

# tc's rate units (tc(8), "RATES"): bits per second, decimal (k = 1000) and binary (ki = 1024)
# prefixes, "bps" meaning bytes per second; a bare number is bits per second.
_PREFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
             "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_UNITS = {**{f"{p}bit": f for p, f in _PREFIXES.items()}, **{f"{p}bps": 8 * f for p, f in _PREFIXES.items()}, "": 1}
_RATE = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,11}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class NetworkUnavailable(RuntimeError):
    """A shaped network cannot be built here (not Linux, not root, no ``ip``/``tc``, a command failed)."""


def parse_rate(value, name="bandwidth"):
    """Bits per second of a tc-style rate such as ``"100mbit"``, ``"1gbit"`` or ``"12.5mbps"``.

    Units as in tc(8): ``bit``, ``kbit``, ``mbit``, ``gbit``, ``tbit`` (powers of 1000),
    ``kibit`` ... ``tibit`` (powers of 1024), the same with ``bps`` for *bytes* per second; a
    bare number (or an ``int``) is bits per second. Case and surrounding blanks are ignored; a
    fractional number of bits per second is rounded to the nearest integer.

    Parameters
    ----------
    value : str or int
        The rate.
    name : str
        The parameter's name, for the error message.

    Returns
    -------
    int
        Bits per second, in ``[MIN_RATE, MAX_RATE]`` (8 kbit/s to 100 gbit/s).

    Raises
    ------
    TypeError
        If ``value`` is neither a string nor an integer.
    ValueError
        If the text is malformed, the rate is not positive, or it lies outside the range.

    Examples
    --------
    >>> parse_rate("100mbit"), parse_rate("1gbit"), parse_rate("500kbit")
    (100000000, 1000000000, 500000)
    >>> parse_rate("12.5mbps"), parse_rate("1mibit"), parse_rate(20_000_000)
    (100000000, 1048576, 20000000)
    >>> parse_rate("fast", "uplink")
    Traceback (most recent call last):
    ...
    ValueError: uplink must be a rate such as '100mbit', '1gbit', '500kbit' or '12.5mbps' (bytes/s), got 'fast'
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{name} must be a rate such as '100mbit' or an int of bits/s, got {value!r}")
    if isinstance(value, int):
        bits = Fraction(value)
    else:
        match = _RATE.fullmatch(value)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(f"{name} must be a rate such as '100mbit', '1gbit', '500kbit' or '12.5mbps' "
                             f"(bytes/s), got {value!r}")
        bits = Fraction(match.group(1)) * _UNITS[match.group(2).lower()]
    if bits <= 0:
        raise ValueError(f"{name} must be a positive rate, got {value!r}")
    rate = round(bits)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"{name}={value!r} is {rate} bit/s, outside the valid range "
                         f"[{MIN_RATE} bit/s (8kbit), {MAX_RATE} bit/s (100gbit)]")
    return rate


def default_burst(rate):
    r"""Bytes of tbf's token bucket for a rate: 1 ms of traffic, at least two full frames.

    .. math:: \mathrm{burst} = \max\bigl(\lceil r \cdot 10^{-3} / 8 \rceil,\; 2\,(\mathrm{MTU} + 14)\bigr)

    A packet larger than the bucket could never be sent, hence the floor; above it, a smaller
    bucket lets less traffic pass at once after an idle period (see the module's notes for the
    measurements behind 1 ms).

    Parameters
    ----------
    rate : int
        Bits per second.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> default_burst(100_000_000), default_burst(20_000_000), default_burst(1_000_000_000)
    (12500, 3028, 125000)
    """
    return max(math.ceil(rate * BURST_SECONDS / 8), 2 * (MTU + ETHERNET_HEADER))


def tcp_payload_rate(rate, mtu=MTU, timestamps=True):
    r"""Bits of TCP payload per second that a bulk transfer gets through a tbf of ``rate`` bits/s.

    tbf counts whole frames; a full frame of ``mtu + 14`` bytes carries ``mtu − 40`` bytes of
    payload, 12 fewer with TCP timestamps (on by default in Linux, ``net.ipv4.tcp_timestamps``):

    .. math:: r_{\mathrm{payload}} = r \, \frac{\mathrm{MTU} - 40 - 12}{\mathrm{MTU} + 14}

    Parameters
    ----------
    rate : int
        Configured bits per second.
    mtu : int
    timestamps : bool

    Returns
    -------
    float

    Examples
    --------
    >>> round(tcp_payload_rate(20_000_000))
    19128137
    """
    return rate * (mtu - 40 - (12 if timestamps else 0)) / (mtu + ETHERNET_HEADER)


def available():
    """Whether a shaped network can be built here, and if not, why (one line).

    Checks, without creating anything: Linux, root (effective uid 0), ``ip`` and ``tc`` on ``PATH``.

    Returns
    -------
    tuple of (bool, str)
        ``(True, "")`` or ``(False, reason)``.

    Examples
    --------
    >>> ok, reason = available()
    >>> ok or reason.startswith("shaped links need")
    True
    """
    if not sys.platform.startswith("linux"):
        return False, f"shaped links need Linux network namespaces; this platform is {sys.platform}"
    if os.geteuid() != 0:
        return False, f"shaped links need root (network namespaces, veth, tc); the effective uid is {os.geteuid()}"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"shaped links need the '{tool}' command of iproute2 on PATH"
    if not os.path.exists("/proc/self/ns/net"):
        return False, "shaped links need network namespaces (/proc/self/ns/net is missing)"
    return True, ""


@dataclass(frozen=True)
class ShapedNetwork:
    """The link built by :func:`shaped_network`: names, addresses and rates.

    Attributes
    ----------
    ps_namespace, workers_namespace : str
        Names of the two network namespaces (under ``/var/run/netns``).
    ps_interface, workers_interface : str
        The veth ends, one in each namespace.
    ps_address, workers_address : str
        IPv4 addresses of the two ends (``prefixlen`` bits of network).
    prefixlen : int
    uplink, downlink : int
        Configured rates in bits per second: workers → PS, and PS → workers.
    uplink_burst, downlink_burst, limit : int
        tbf's bucket sizes and queue limit, in bytes.
    mtu : int
    """

    ps_namespace: str
    workers_namespace: str
    ps_interface: str
    workers_interface: str
    ps_address: str
    workers_address: str
    prefixlen: int
    uplink: int
    downlink: int
    uplink_burst: int
    downlink_burst: int
    limit: int
    mtu: int = MTU

    def _side(self, side):
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        return side == "ps"

    def namespace(self, side):
        """Namespace name of ``side`` (``"ps"`` or ``"workers"``)."""
        return self.ps_namespace if self._side(side) else self.workers_namespace

    def interface(self, side):
        """Name of the veth end in ``side``'s namespace."""
        return self.ps_interface if self._side(side) else self.workers_interface

    def address(self, side):
        """IPv4 address of ``side``'s veth end."""
        return self.ps_address if self._side(side) else self.workers_address

    def exec_prefix(self, side):
        """``["ip", "netns", "exec", <namespace>]``: prepend to a command to run it in ``side``'s namespace.

        Parameters
        ----------
        namespace : str
            A network namespace's name.

        Returns
        -------
        list of str
        """
        return exec_prefix(self.namespace(side))

    def gloo_environment(self, side):
        """Environment for a rank in ``side``'s namespace: gloo's interface and the PS's address."""
        return {"GLOO_SOCKET_IFNAME": self.interface(side), "MASTER_ADDR": self.ps_address}

    def stats(self):
        """Counters of the two qdiscs: ``{"up": {...}, "down": {...}}`` with ``bytes``, ``packets``,
        ``drops``, ``overlimits`` and ``backlog`` (bytes queued now).
        """
        counters = {}
        for direction, (source, _) in DIRECTIONS.items():
            out = _run(["tc", "-j", "-s", "-n", self.namespace(source), "qdisc", "show", "dev", self.interface(source)])
            qdisc = next(q for q in json.loads(out) if q.get("root"))
            counters[direction] = {key: int(qdisc[key])
                                   for key in ("bytes", "packets", "drops", "overlimits", "backlog")}
        return counters


def exec_prefix(namespace):
    """The command prefix that runs a program inside ``namespace``: ``["ip", "netns", "exec", namespace]``.

    Parameters
    ----------
    namespace : str
        A network namespace's name.

    Returns
    -------
    list of str

    Examples
    --------
    >>> exec_prefix("agc-1-abcdef-ps") + ["python", "-c", "pass"]
    ['ip', 'netns', 'exec', 'agc-1-abcdef-ps', 'python', '-c', 'pass']
    """
    return ["ip", "netns", "exec", _check_namespace(namespace)]


def enter_namespace(name):
    """Move the calling thread into the network namespace ``name`` (``setns(2)`` on ``/var/run/netns/<name>``).

    Call it first thing in a child process (a rank started by :mod:`multiprocessing`), before
    creating sockets or threads: only the calling thread moves, and a thread inherits the
    namespace of the thread that starts it, so every socket the process opens afterwards (gloo's
    included) lives in ``name``. Unlike ``ip netns exec`` it does not remount ``/sys``, which
    therefore still shows the host's interfaces; sockets, routes and ``socket.if_nameindex``
    are the namespace's.

    Parameters
    ----------
    name : str
        A namespace created by ``ip netns add`` (e.g. :attr:`ShapedNetwork.ps_namespace`).

    Raises
    ------
    ValueError
        If ``name`` is not a valid namespace name.
    FileNotFoundError
        If there is no such namespace.
    OSError
        If ``setns`` fails (``EPERM`` without ``CAP_SYS_ADMIN``).
    """
    path = os.path.join(NETNS_DIR, _check_namespace(name))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"no network namespace {name!r} ({path} does not exist)") from None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path!r}, CLONE_NEWNET) failed: {os.strerror(error)}")
        target = os.fstat(fd).st_ino
    finally:
        os.close(fd)
    if os.stat("/proc/thread-self/ns/net").st_ino != target:
        raise OSError(f"setns({path!r}) returned success but the thread is not in the namespace")


@contextlib.contextmanager
def shaped_network(uplink, downlink=None, *, name_prefix="agc", burst=None, limit=None, handle_sigterm=True):
    r"""Build a PS ↔ workers link shaped at ``uplink`` / ``downlink`` for the duration of a ``with`` block.

    See the module's notes for the topology, the choice of ``burst`` and ``limit``, and the
    naming scheme. Everything created is removed on leaving the block, whatever the cause.

    Parameters
    ----------
    uplink : str or int
        Rate of the workers → PS direction (the PS's incoming link), e.g. ``"100mbit"``
        (:func:`parse_rate`).
    downlink : str or int, optional
        Rate of the PS → workers direction (the broadcast); default ``uplink``.
    name_prefix : str
        First part of every name: a lower-case letter, then up to 11 letters or digits.
    burst : int, optional
        tbf bucket in bytes for both directions; default :func:`default_burst` of each rate.
        At least ``MTU + 14`` (a full frame).
    limit : int, optional
        tbf queue limit in bytes; default :data:`DEFAULT_LIMIT`.
    handle_sigterm : bool
        While the block runs, turn ``SIGTERM`` into :class:`agc.runtime.lifeline.Terminated`
        (a ``SystemExit(143)``) so that the cleanup runs (only in the main thread, and only if
        ``SIGTERM`` has its default action; the previous action is restored on exit).

    Yields
    ------
    ShapedNetwork

    Raises
    ------
    ValueError, TypeError
        For invalid arguments, before anything is created.
    NetworkUnavailable
        If the network cannot be built (:func:`available` says why; nothing is created), or a
        command fails while building it (what was created is removed).

    Examples
    --------
    >>> with shaped_network("20mbit", "10mbit") as net:  # doctest: +SKIP
    ...     subprocess.run(net.exec_prefix("ps") + ["ip", "-o", "link"])
    """
    up = parse_rate(uplink, "uplink")
    down = up if downlink is None else parse_rate(downlink, "downlink")
    _check_prefix(name_prefix)
    frame = MTU + ETHERNET_HEADER
    if burst is not None:
        burst = check_int("burst", burst, low=frame, high=2**31 - 1)
    limit = DEFAULT_LIMIT if limit is None else check_int("limit", limit, low=frame, high=2**32 - 1)
    ok, reason = available()
    if not ok:
        raise NetworkUnavailable(reason)
    subnet = _free_subnet()
    ps_address, workers_address = (str(host) for host in list(subnet.hosts())[:2])
    base = f"{name_prefix}-{os.getpid()}-{secrets.token_hex(3)}"
    net = ShapedNetwork(
        ps_namespace=f"{base}-ps", workers_namespace=f"{base}-wk",
        ps_interface=f"{name_prefix}-ps", workers_interface=f"{name_prefix}-wk",
        ps_address=ps_address, workers_address=workers_address, prefixlen=subnet.prefixlen,
        uplink=up, downlink=down, uplink_burst=burst or default_burst(up), downlink_burst=burst or default_burst(down),
        limit=limit,
    )
    created = []
    with sigterm_raises() if handle_sigterm else contextlib.nullcontext():
        try:
            with signals_deferred():
                _build(net, created)
            yield net
        finally:
            with signals_deferred():
                _remove(created)


#: The program of :func:`deleted_if_orphaned`'s guardian: wait for the end of its standard input;
#: end of file without the word ``done`` means its parent died without cleaning up.
_GUARDIAN = """
import subprocess, sys
if sys.stdin.buffer.read() != b"done":
    for name in sys.argv[1:]:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
"""


@contextlib.contextmanager
def deleted_if_orphaned(net):
    """For the block, a guardian process deletes ``net``'s namespaces if this process dies (even by ``SIGKILL``).

    The guardian (a small Python process in its own session, so that a Ctrl-C in the terminal
    does not reach it) reads its standard input, a pipe from this process. Leaving the block
    writes ``done`` and closes the pipe: the guardian exits and the namespaces are left to
    :func:`shaped_network`'s own cleanup. If this process dies first, the kernel closes the
    pipe, the guardian reads end of file without ``done``, and deletes both namespaces (their
    veth pair goes with them); processes still inside keep the namespace alive, unnamed, until
    they exit.

    Parameters
    ----------
    net : ShapedNetwork

    Yields
    ------
    subprocess.Popen
        The guardian.
    """
    guardian = subprocess.Popen([sys.executable, "-I", "-S", "-c", _GUARDIAN, net.ps_namespace,
                                 net.workers_namespace], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield guardian
    finally:
        with signals_deferred():
            try:
                guardian.stdin.write(b"done")
                guardian.stdin.close()
            except OSError:  # it died: nothing to tell it
                pass
            try:
                guardian.wait(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                guardian.kill()
                guardian.wait()


def remove_stale(name_prefix="agc"):
    """Delete namespaces left by a process of this module that died without cleaning up (``SIGKILL``).

    A namespace is deleted only if its name is exactly ``<name_prefix>-<pid>-<token>-ps`` or
    ``...-wk`` (``token`` six hexadecimal digits), no process with that ``pid`` exists, and no
    process is inside the namespace; anything else is left alone.

    Parameters
    ----------
    name_prefix : str

    Returns
    -------
    list of str
        The deleted namespaces.

    Raises
    ------
    ValueError
        If ``name_prefix`` is not a valid prefix (see :func:`shaped_network`).
    NetworkUnavailable
        If :func:`available` fails.
    """
    _check_prefix(name_prefix)
    ok, reason = available()
    if not ok:
        raise NetworkUnavailable(reason)
    pattern = re.compile(rf"{re.escape(name_prefix)}-(\d+)-[0-9a-f]{{6}}-(ps|wk)")
    stale = [name for name in _namespaces() if (match := pattern.fullmatch(name))
             and not alive(int(match.group(1))) and not _pids_inside(name)]
    _remove(stale)
    return stale


@dataclass(frozen=True)
class Throughput:
    """One measurement of :func:`measure_throughput`.

    Attributes
    ----------
    direction : str
        ``"up"`` (workers → PS) or ``"down"``.
    flows : int
        Concurrent TCP connections.
    nbytes : int
        Payload bytes received, all flows together.
    seconds : float
        From the first received byte to the last.
    bits_per_second : float
        Payload rate: bytes after the first read, times 8, over ``seconds``.
    """

    direction: str
    flows: int
    nbytes: int
    seconds: float
    bits_per_second: float


def measure_throughput(net, nbytes, direction="up", flows=1, timeout=60.0):
    """Send ``nbytes`` of TCP payload across the link and measure the rate at the receiver.

    A receiver process in the destination namespace accepts ``flows`` connections from one
    sender process in the other namespace (one thread per connection, ``nbytes / flows`` bytes
    each) and times the data from its first read to the end of the last connection. The rate
    counts the bytes after the first read (those took no measured time). Both processes are
    forked from this one (they run only socket code) and enter their namespace with
    :func:`enter_namespace`.

    Parameters
    ----------
    net : ShapedNetwork
    nbytes : int
        Total payload bytes, at least 65536.
    direction : {"up", "down"}
        ``"up"``: workers → PS (shaped at ``net.uplink``); ``"down"``: PS → workers.
    flows : int
        Concurrent connections sharing the link (the workers of a PS).
    timeout : float
        Seconds before the measurement is abandoned.

    Returns
    -------
    Throughput
        To compare with :func:`tcp_payload_rate` of the configured rate.

    Raises
    ------
    ValueError
        For an unknown ``direction`` or a too small ``nbytes``.
    RuntimeError
        If a child fails; ``TimeoutError`` if it does not finish within ``timeout``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {tuple(DIRECTIONS)}, got {direction!r}")
    flows = check_int("flows", flows, low=1, high=256)
    nbytes = check_int("nbytes", nbytes, low=max(2**16, flows))
    source, destination = DIRECTIONS[direction]
    context = mp.get_context("fork")
    results, report = context.Pipe(duplex=False)
    receiver = context.Process(target=_receive, name="agc-netns-receiver", daemon=True,
                               args=(net.namespace(destination), net.address(destination), flows, timeout, report))
    sender = None
    deadline = time.monotonic() + timeout
    try:
        receiver.start()
        port = _answer(results, deadline, [receiver])
        sender = context.Process(target=_send, name="agc-netns-sender", daemon=True,
                                 args=(net.namespace(source), net.address(destination), port, nbytes, flows, timeout))
        sender.start()
        total, first, seconds = _answer(results, deadline, [receiver, sender])
        sender.join(timeout=max(deadline - time.monotonic(), 0.0))
        if sender.exitcode != 0:
            raise RuntimeError(f"the sender failed with exit code {sender.exitcode}")
    finally:
        for process in (receiver, sender):
            _reap(process)
    if total != nbytes:
        raise RuntimeError(f"the receiver got {total} bytes of {nbytes}")
    if seconds <= 0:
        raise RuntimeError(f"{nbytes} bytes arrived in one read; send more to measure a rate")
    return Throughput(direction, flows, total, seconds, (total - first) * 8 / seconds)


def _check_prefix(name_prefix):
    if not isinstance(name_prefix, str) or not _PREFIX.fullmatch(name_prefix):
        raise ValueError(f"name_prefix must be a lower-case letter followed by at most 11 lower-case letters or "
                         f"digits, got {name_prefix!r}")


def _check_namespace(name):
    if not isinstance(name, str) or not _NAMESPACE.fullmatch(name):
        raise ValueError(f"not a valid network namespace name: {name!r}")
    return name


def _run(command):
    """Run an ``ip``/``tc`` command; its stdout, or :class:`NetworkUnavailable` with its stderr on one line."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NetworkUnavailable(f"`{' '.join(command)}` failed: {error}") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
        raise NetworkUnavailable(f"`{' '.join(command)}` failed: {message}")
    return done.stdout


def _host_networks():
    """Every IPv4 network the host has an address in or a route to (the default route excepted)."""
    networks = []
    for interface in json.loads(_run(["ip", "-j", "-4", "addr", "show"]) or "[]"):
        for info in interface.get("addr_info", []):
            networks.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for route in json.loads(_run(["ip", "-j", "-4", "route", "show", "table", "all"]) or "[]"):
        if route.get("dst", "default") != "default":
            networks.append(ipaddress.ip_network(route["dst"], strict=False))
    return networks


def _free_subnet():
    """The first ``/30`` of :data:`SUBNETS` that overlaps no network of the host."""
    used = _host_networks()
    for block in SUBNETS:
        for subnet in ipaddress.ip_network(block).subnets(new_prefix=30):
            if not any(subnet.overlaps(network) for network in used):
                return subnet
    raise NetworkUnavailable(f"every /30 of {', '.join(SUBNETS)} overlaps an address or route of this host")


def _build(net, created):
    """Create the namespaces, the veth pair, the addresses and the qdiscs; record namespaces in ``created``."""
    for namespace in (net.ps_namespace, net.workers_namespace):
        _run(["ip", "netns", "add", namespace])
        created.append(namespace)
        _run(["ip", "-n", namespace, "link", "set", "lo", "up"])
    _run(["ip", "-n", net.ps_namespace, "link", "add", net.ps_interface, "mtu", str(net.mtu), "type", "veth",
          "peer", "name", net.workers_interface, "mtu", str(net.mtu), "netns", net.workers_namespace])
    for side in SIDES:
        namespace, interface = net.namespace(side), net.interface(side)
        _run(["ip", "-n", namespace, "addr", "add", f"{net.address(side)}/{net.prefixlen}", "dev", interface])
        _run(["ip", "-n", namespace, "link", "set", interface, "up"])
    for rate, burst, side in ((net.uplink, net.uplink_burst, "workers"), (net.downlink, net.downlink_burst, "ps")):
        _run(["tc", "-n", net.namespace(side), "qdisc", "add", "dev", net.interface(side), "root", "tbf",
              "rate", f"{rate}bit", "burst", str(burst), "limit", str(net.limit)])


def _namespaces():
    """Names of the host's named network namespaces."""
    return [entry["name"] for entry in json.loads(_run(["ip", "-j", "netns", "list"]) or "[]")]


def _pids_inside(namespace):
    return [int(pid) for pid in _run(["ip", "netns", "pids", namespace]).split()]


def _remove(namespaces):
    """Delete the named namespaces (and with them their veth ends); try all, then report failures."""
    failures, occupied = [], {}
    for namespace in namespaces:
        if not os.path.exists(os.path.join(NETNS_DIR, namespace)):
            continue
        try:
            if inside := _pids_inside(namespace):
                occupied[namespace] = inside
            _run(["ip", "netns", "del", namespace])
        except NetworkUnavailable as error:
            failures.append(str(error))
    if failures:
        raise RuntimeError("could not remove every network namespace: " + "; ".join(failures))
    for namespace, inside in occupied.items():  # warned after the deletion, which a warning filter cannot stop
        warnings.warn(f"processes {inside} were still inside network namespace {namespace}; its name is removed, "
                      "the namespace and its link go when they exit", RuntimeWarning, stacklevel=3)


def _answer(connection, deadline, processes):
    """The receiver's next message; an error if it reports one, a child dies or the deadline passes."""
    while not connection.poll(0.05):
        for process in processes:
            if process.exitcode not in (None, 0):
                raise RuntimeError(f"{process.name} failed with exit code {process.exitcode}")
        if time.monotonic() > deadline:
            raise TimeoutError("the throughput measurement did not finish in time")
    answer = connection.recv()
    if isinstance(answer, BaseException):
        raise RuntimeError(f"the receiver failed: {answer!r}")
    return answer


def _reap(process):
    if process is None or process.pid is None:
        return
    process.join(timeout=1.0)
    if process.is_alive():
        process.kill()
        process.join(timeout=2.0)


def _receive(namespace, address, flows, timeout, report):
    """Receiver child: accept ``flows`` connections, read them to the end, report ``(bytes, first read, seconds)``."""
    try:
        enter_namespace(namespace)
        with socket.create_server((address, 0), backlog=flows) as server:
            server.settimeout(timeout)
            report.send(server.getsockname()[1])
            peers = [server.accept()[0] for _ in range(flows)]
        selector = selectors.DefaultSelector()
        for peer in peers:
            peer.setblocking(False)
            selector.register(peer, selectors.EVENT_READ)
        buffer = bytearray(2**20)
        total, first, start, end = 0, 0, None, None
        limit = time.monotonic() + timeout
        while selector.get_map():
            events = selector.select(timeout=max(limit - time.monotonic(), 0.0))
            if not events:
                raise TimeoutError(f"no data for {timeout} s")
            for key, _ in events:
                got = key.fileobj.recv_into(buffer)
                end = time.perf_counter()
                if got == 0:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                if start is None:
                    start, first = end, got
                total += got
        report.send((total, first, end - start))
    except BaseException as error:  # reported to the parent, which raises it
        report.send(error)
        raise


def _send(namespace, address, port, nbytes, flows, timeout):
    """Sender child: ``flows`` threads, each one connection sending its share of ``nbytes`` zero bytes."""
    enter_namespace(namespace)
    shares = [nbytes // flows + (i < nbytes % flows) for i in range(flows)]
    errors = []

    def send(share):
        try:
            with socket.create_connection((address, port), timeout=timeout) as connection:
                block = memoryview(bytes(2**20))
                while share > 0:
                    share -= connection.send(block[:min(share, len(block))])
                connection.shutdown(socket.SHUT_WR)
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
