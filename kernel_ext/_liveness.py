"""Liveness of the flow runs this process executes, so a run whose process died ends.

Every flow run executing here (a script's, an interactive kernel's session, a Dask
driver's, the subflows of a deployment run) is registered while it runs, and a daemon
thread beats their heartbeat in the store every ``BEAT_SECONDS``
(``TASKBOOK_HEARTBEAT_SECONDS``, default 10). The scheduler (``taskbook serve``) ends a run
whose last beat is older than its window (60 s by default) Crashed, with its unfinished
task runs, and expires its pending pauses. A deployment run is beaten by its worker.

SIGTERM: while a top-level flow runs in the main thread of a plain Python process (not a
kernel) that has no handler of its own, SIGTERM raises ``Terminated``: the run and its
unfinished task runs end Cancelled, the store is flushed, and the process exits with
status 143, as it would have. Outside flows the default handler is in place.
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
            _beater = threading.Thread(target=_beat_forever, name="taskbook-liveness", daemon=True)
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
            from kernel_ext.store import current_store

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

    Whether the process is ours to handle is decided once, by the first top-level flow.
    Then the handler is installed while flows run (the first to start installs it, the
    last to end puts the default back, unless the program installed its own meanwhile),
    so outside flows SIGTERM ends the process at once, as it would have.
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
            if SigtermGuard._holders == 0:
                if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                    return self  # the program installed its own since: it is theirs now
                signal.signal(signal.SIGTERM, _terminate)
            SigtermGuard._holders += 1
            self._held = True
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self._held:
            return
        self._held = False
        SigtermGuard._holders = max(0, SigtermGuard._holders - 1)
        if SigtermGuard._holders == 0 and signal.getsignal(signal.SIGTERM) is _terminate:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _take_sigterm() -> bool:
    # The program (or the kernel) that has a handler of its own handles SIGTERM itself.
    return not _in_kernel() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _in_kernel() -> bool:
    from kernel_ext._display import in_notebook

    return in_notebook()


def _terminate(signum: int, _frame: Any) -> None:
    if SigtermGuard._holders > 0:
        raise Terminated(128 + signum)
    # No flow runs (it ended between the signal and this call): end as SIGTERM would.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
