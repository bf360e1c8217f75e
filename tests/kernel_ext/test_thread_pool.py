"""The default task runner's thread pool: bounded, reusing idle threads, finishing its queue."""

from __future__ import annotations

import threading
import time

from kernel_ext._thread_pool import ThreadPool


def _started(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix))


def test_concurrent_submits_start_no_more_than_max_workers() -> None:
    pool = ThreadPool(2, "pool-bounded", lambda: None)
    release = threading.Event()
    submitters = [
        threading.Thread(target=pool.submit, args=(lambda: release.wait(5),)) for _ in range(8)
    ]
    for submitter in submitters:
        submitter.start()
    for submitter in submitters:
        submitter.join()
    assert _started("pool-bounded") == 2
    release.set()
    pool.shutdown(wait=True)
    assert _started("pool-bounded") == 0


def test_an_idle_thread_takes_the_next_call() -> None:
    pool = ThreadPool(4, "pool-idle", lambda: None)
    done: list[int] = []
    for i in range(5):
        finished = threading.Event()
        pool.submit(lambda i=i, finished=finished: (done.append(i), finished.set()))
        assert finished.wait(5)
        time.sleep(0.01)  # the thread is back waiting
    pool.shutdown(wait=True)
    assert done == [0, 1, 2, 3, 4]
    assert len(pool._threads) == 1


def test_shutdown_runs_what_is_queued_and_cancel_drops_it() -> None:
    ran: list[int] = []
    gate = threading.Event()
    pool = ThreadPool(1, "pool-queue", lambda: None)
    pool.submit(lambda: gate.wait(5))
    for i in range(3):
        pool.submit(lambda i=i: ran.append(i))
    gate.set()
    pool.shutdown(wait=True)
    assert ran == [0, 1, 2]

    dropped: list[int] = []
    gate.clear()
    pool = ThreadPool(1, "pool-cancel", lambda: None)
    pool.submit(lambda: gate.wait(5))
    for i in range(3):
        pool.submit(lambda i=i: dropped.append(i))
    pool.shutdown(wait=False, cancel_calls=True)
    gate.set()
    for thread in pool._threads:
        thread.join(5)
    assert dropped == []


def test_a_call_that_raises_does_not_end_its_thread() -> None:
    pool = ThreadPool(1, "pool-raise", lambda: None)
    finished = threading.Event()
    pool.submit(lambda: 1 / 0)
    pool.submit(finished.set)
    assert finished.wait(5)
    pool.shutdown(wait=True)
