"""Liveness of the flow runs this process executes, so a run whose process died ends.

Every flow run executing here (a script's, an interactive kernel's session, a Dask
driver's, the subflows of a deployment run) is registered while it runs, and a daemon
thread beats their heartbeat in the store every ``BEAT_SECONDS``
(``TASKBOOK_HEARTBEAT_SECONDS``, default 10). The scheduler (``taskbook serve``) ends a run
whose last beat is older than its window (60 s by default) Crashed, with its unfinished
task runs, and expires its pending pauses. A deployment run is beaten by its worker.

SIGTERM: in the main thread of a plain Python process (not a kernel) that has no handler
of its own, the first top-level flow installs one. While a top-level flow runs, SIGTERM
raises ``Terminated``: the run and its unfinished task runs end Cancelled, the store is
flushed, and the process exits with status 143, as it would have; with no flow running,
the default comes back and the signal ends the process as before.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from kernel_ext._durations import seconds_from_env
from kernel_ext._errors import Terminated

__all__ = ["BEAT_SECONDS", "SigtermGuard", "live_runs", "register", "unregister"]

# Kept well inside the scheduler's 60 s window, however it is set.
BEAT_SECONDS = seconds_from_env("TASKBOOK_HEARTBEAT_SECONDS", 10.0, low=0.05, high=20.0)

_live: set[str] = set()
_lock = threading.Lock()
_beater: threading.Thread | None = None


def register(run_id: str) -> None:
    """Beat ``run_id`` until ``unregister``; starts the beating thread on first use."""
    global _beater
    with _lock:
        _live.add(run_id)
        if _beater is None:
            _beater = threading.Thread(target=_beat_forever, name="taskbook-liveness",
                                       daemon=True)  # fmt: skip
            _beater.start()


def unregister(run_id: str) -> None:
    with _lock:
        _live.discard(run_id)


def live_runs() -> list[str]:
    with _lock:
        return list(_live)


def _beat_forever() -> None:
    while True:
        time.sleep(BEAT_SECONDS)
        run_ids = live_runs()
        if not run_ids:
            continue
        try:
            from kernel_ext.store._registry import current_store

            store = current_store()  # never opens one: the runs' own store, or none
            if store is not None:
                store.beat_flow_runs(run_ids, time.time())
        except Exception:  # a store blip: the next beat tries again
            pass


def _after_fork() -> None:
    global _beater, _lock
    _live.clear()  # the child executes none of its parent's runs
    _beater, _lock = None, threading.Lock()
    SigtermGuard._holders = 0


os.register_at_fork(after_in_child=_after_fork)


class SigtermGuard:
    """Turns SIGTERM into ``Terminated`` while top-level flows run, where that is ours to
    decide: the main thread, no handler installed by anyone else, and not a Jupyter
    kernel.

    The handler is installed once, by the first top-level flow (installing and removing
    it around every call would cost more than the call), and counts the flows running:
    a SIGTERM when none runs puts the default back and ends the process as it would
    have. A handler the program installs later replaces ours, and stays.
    """

    _holders = 0  # top-level flows running under our handler (all on the main thread)
    _ours: bool | None = None  # None: not decided yet for this process

    def __init__(self) -> None:
        self._held = False

    def __enter__(self) -> SigtermGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        if SigtermGuard._ours is None:
            SigtermGuard._ours = _take_sigterm()
        if SigtermGuard._ours:
            SigtermGuard._holders += 1
            self._held = True
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._held:
            self._held = False
            SigtermGuard._holders -= 1


def _take_sigterm() -> bool:
    if _in_kernel() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False  # the program (or the kernel) handles SIGTERM itself
    signal.signal(signal.SIGTERM, _terminate)
    return True


def _in_kernel() -> bool:
    from kernel_ext._display import in_notebook

    return in_notebook()


def _terminate(signum: int, _frame: Any) -> None:
    if SigtermGuard._holders > 0:
        raise Terminated(128 + signum)
    # No flow runs: end as SIGTERM would have, had we not been here.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
