r"""Nothing outlives the launcher: signals in the launcher, parent-death in every rank.

A run is a launcher (the Python process that called :func:`agc.runtime.run`, or ``agc run``)
and ``n + 1`` rank processes. Whatever ends the launcher, the ranks must end too:

* **SIGTERM** (``kill``, a batch scheduler): :func:`sigterm_raises` turns it into
  :class:`Terminated` in the launcher's main thread, so that its cleanup (stop every rank,
  remove the network namespaces) runs and the process exits with status 143;
* **Ctrl-C**: the terminal sends SIGINT to the whole process group; the ranks ignore it
  (:func:`guard_rank`) and the launcher's ``KeyboardInterrupt`` stops them; the command prints
  one line;
* **SIGKILL** (nothing runs in the launcher): every rank asks the kernel for a ``SIGKILL`` when
  its parent dies (``prctl(PR_SET_PDEATHSIG)``). Under the ``forkserver`` start method the
  parent is the forkserver, which exits as soon as the launcher's end of its pipe closes, so the
  signal arrives through it; a watchdog thread also checks the launcher's pid every
  :data:`WATCH_SECONDS`, for platforms without ``prctl`` and for the window before ``prctl``.

During the cleanup itself :func:`signals_deferred` holds SIGINT and SIGTERM back, so that a
second Ctrl-C cannot interrupt it half-way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["WATCH_SECONDS", "Terminated", "alive", "guard_rank", "signals_deferred", "sigterm_raises"]

#: Seconds between two checks of the launcher's pid by a rank's watchdog.
WATCH_SECONDS = 0.5
#: ``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Terminated(SystemExit):
    """SIGTERM arrived in the launcher: raised so that the cleanup runs; exit status 143 (128 + 15)."""

    def __init__(self, code=128 + signal.SIGTERM):
        super().__init__(code)


def alive(pid):
    """Whether process ``pid`` exists and has not ended (a zombie has ended).

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool

    Examples
    --------
    >>> alive(os.getpid())
    True
    """
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def guard_rank(launcher):
    """Make this rank process end with the launcher ``launcher`` (a pid), and ignore Ctrl-C.

    Call it first thing in a rank. It asks for ``SIGKILL`` on the death of the parent
    (Linux), exits at once if the launcher is already gone, and starts a daemon thread that
    exits the process when the launcher's pid is no longer alive.

    Parameters
    ----------
    launcher : int
        The launcher's pid.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher handles Ctrl-C for the whole run
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not alive(launcher):
        os._exit(1)

    def watch():
        while alive(launcher):
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="agc-watch-launcher", daemon=True).start()


@contextlib.contextmanager
def signals_deferred():
    """Hold ``SIGINT`` and ``SIGTERM`` back in this thread for the block; a pending one acts after it.

    Yields
    ------
    None
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: the cleanup must not be cut short
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises():
    """Within the block, ``SIGTERM`` raises :class:`Terminated` (main thread, default action only).

    Elsewhere (another thread, or a handler already installed) the block changes nothing. The
    previous action is restored on leaving.

    Yields
    ------
    bool
        Whether the handler was installed.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield False
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield True
    finally:
        if signal.getsignal(signal.SIGTERM) in (_raise_terminated, signal.SIG_IGN):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
