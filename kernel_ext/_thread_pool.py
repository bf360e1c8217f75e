"""The default task runner's threads: a queue of calls and the threads that take them.

What ``concurrent.futures.ThreadPoolExecutor`` does for the runner, without what the
runner does not use: the runner has futures of its own (``TaskRunFuture``), so a
``concurrent.futures.Future`` per call (a condition variable, its locks, its notify) and
the executor's work items and semaphores were pure cost, a third of what a ``.map()`` of
trivial tasks spent per task. Calls go through a ``queue.SimpleQueue`` (in C).

Like the executor's, the threads start as calls come (at most ``max_workers``), are not
daemons (a running task run is not cut off when the program's main thread ends), and
finish what is queued when the interpreter exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Callable

__all__ = ["ThreadPool"]

logger = logging.getLogger("taskbook.engine")

_live: weakref.WeakSet[ThreadPool] = weakref.WeakSet()
_exit_hook_registered = False
_registration_lock = threading.Lock()


class ThreadPool:
    """Runs calls on up to ``max_workers`` threads, in the order they are submitted."""

    def __init__(self, max_workers: int, name: str, initializer: Callable[[], None]) -> None:
        self._max_workers = max_workers
        self._name = name
        self._initializer = initializer
        self._calls: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a call
        self._lock = threading.Lock()  # over _threads and _idle
        self._shut = False
        _register_exit_hook()
        _live.add(self)

    def submit(self, call: Callable[[], None]) -> None:
        with self._lock:  # a thread more only if none is waiting for the call
            if self._shut:
                raise RuntimeError("This thread pool is shut down; a flow run starts a new one.")
            self._calls.put(call)
            if self._idle > 0:
                self._idle -= 1  # taken by this call; the thread counts itself idle again
            elif len(self._threads) < self._max_workers:
                self._start_thread()

    def shutdown(self, wait: bool = True, cancel_calls: bool = False) -> None:
        """No more calls; the threads end once the queue is empty (at once for the calls
        not started yet, with ``cancel_calls``). ``wait``: until they have ended."""
        with self._lock:  # no thread starts after this: each one gets its None
            self._shut = True
        if cancel_calls:
            try:
                while True:
                    self._calls.get_nowait()
            except queue.Empty:
                pass
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._calls.put(None)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=False
        )
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        self._initializer()
        calls = self._calls
        while (call := calls.get()) is not None:
            try:
                call()
            except BaseException:  # a call's own engine settles its run; keep the thread
                logger.debug("A task runner call raised", exc_info=True)
            del call  # nothing of the last run stays alive while the thread waits
            with self._lock:
                self._idle += 1


def _register_exit_hook() -> None:
    """Once: at exit, before non-daemon threads are joined, let every pool's threads end
    after what is queued (as ``concurrent.futures`` does for its executors)."""
    global _exit_hook_registered
    with _registration_lock:
        if _exit_hook_registered:
            return
        threading._register_atexit(_shut_all)  # type: ignore[attr-defined]
        _exit_hook_registered = True


def _shut_all() -> None:
    for pool in list(_live):
        pool.shutdown(wait=True)
