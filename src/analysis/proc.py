"""Child processes that die with their parent: batch workers, the kernels they start, font builders.

A batch killed outright (SIGKILL, the OOM killer) runs no cleanup code, so its children must end by
themselves. On Linux each child asks the kernel for a parent-death signal
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``) and then checks that its parent is still the one that
started it (the parent may have died before the request); elsewhere a watchdog thread polls the
parent's pid. Both are ways out the child cannot miss: neither depends on the parent sending
anything.

Linux sends the signal when the *thread* that started the child exits, not the process: a child must
be started from a thread that lives as long as the child is needed (see :mod:`analysis.kernel`).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
_PRCTL = None


def _prctl():
    """libc's prctl, or None where there is none (not Linux). Looked up once, before any fork."""
    global _PRCTL
    if _PRCTL is None:
        _PRCTL = False
        if sys.platform.startswith("linux"):
            try:
                _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                _PRCTL = False
    return _PRCTL or None


def die_with_parent(parent_pid: int) -> str:
    """In a child process: be killed when ``parent_pid`` dies; exit now if it already has.

    Returns:
        ``"pdeathsig"`` or ``"watchdog"``: how (for the log).
    """
    prctl = _prctl()
    how = "watchdog"
    if prctl is not None and prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
        how = "pdeathsig"
    if os.getppid() != parent_pid:      # it died before we asked
        os._exit(1)
    if how == "watchdog":
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="parent-watchdog").start()
    return how


def _watch(parent_pid: int) -> None:
    import time
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def preexec():
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGKILL when the calling thread (or the
    whole process) dies, and exits at once if this process is already gone. None where prctl is not
    available (the child then relies on its own parent polling, as ipykernel does)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_pdeathsig():   # runs in the child between fork and exec: nothing that could take a lock
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return set_pdeathsig


def set_pdeathsig() -> None:
    """In a forked child (no exec): SIGKILL when the parent's thread that forked it dies; exit now if
    the parent is already gone."""
    parent = os.getppid()
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    elif parent != 1:
        threading.Thread(target=_watch, args=(parent,), daemon=True, name="parent-watchdog").start()
    if os.getppid() != parent or parent == 1:
        os._exit(1)


PR_SET_NAME = 15


def name_process(name: str) -> None:
    """The name ``ps``, ``top`` and ``/proc/PID/comm`` show for this process (15 bytes at most; Linux only)."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
