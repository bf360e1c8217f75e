"""flush(): what it waits for, and how the writer's failures reach the caller."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from kernel_ext._errors import StoreError
from kernel_ext._states import Completed, Pending, Running
from kernel_ext.store import Store
from kernel_ext.store._engine import create_store_engine, write_engine
from kernel_ext.store._writer import Writer
from tests.store.helpers import Runs, count_rows


def _locked() -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def test_flush_returns_once_everything_before_it_is_committed(store: Store, runs: Runs) -> None:
    tasks = [runs.task(name=f"t{i}") for i in range(3000)]
    for task in tasks:
        store.submit(runs.move(task, Running()))
    store.flush()
    assert count_rows(store.url, "task_runs") == 3000  # seen by another connection
    assert all(task.persisted for task in tasks)


def test_flush_from_several_threads(store: Store, runs: Runs) -> None:
    def work() -> None:
        for _ in range(200):
            store.submit(runs.move(runs.task(), Pending()))
        store.flush()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count_rows(store.url, "task_runs") == 800


def test_a_flush_with_nothing_queued_is_quick(store: Store) -> None:
    started = time.perf_counter()
    store.flush()
    assert time.perf_counter() - started < 1


def test_transient_failures_are_retried(
    store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Writer._execute
    failures = iter([_locked(), _locked()])

    def flaky(self: Writer, *args: Any) -> None:
        error = next(failures, None)
        if error is not None:
            raise error
        real(self, *args)

    monkeypatch.setattr(Writer, "_execute", flaky)
    task = runs.task()
    store.submit(runs.move(task, Completed()))
    store.flush()
    assert store.read_task_run(task.id)["state"] == "Completed"


def test_flush_times_out_while_the_database_stays_busy(
    store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(self: Writer, *args: Any) -> None:
        raise _locked()

    monkeypatch.setattr(Writer, "_execute", busy)
    store.submit(runs.move(runs.task(), Running()))
    with pytest.raises(StoreError, match=r"did not commit within 0.3 s.*database is locked"):
        store.flush(timeout=0.3)
    with pytest.raises(StoreError, match="1 event"):
        store.close(timeout=0.1)  # gives up and says how much was lost


def test_a_bad_event_is_reported_and_its_batch_neighbours_are_written(
    store: Store, runs: Runs
) -> None:
    good = runs.task()
    # A log line without a message breaks a NOT NULL column: a permanent failure.
    bad_log = runs.log(good, "no message")._replace(message=None)  # type: ignore[arg-type]
    store.submit(runs.move(good, Running()))
    store.submit(bad_log)
    store.submit("not an event")  # type: ignore[arg-type]
    store.submit(runs.move(good, Completed()))
    with pytest.raises(StoreError, match="2 event") as caught:
        store.flush()
    assert caught.value.__cause__ is not None
    assert store.read_task_run(good.id)["state"] == "Completed"
    store.flush()  # reported once; the writer carries on


def test_a_dead_writer_is_reported_with_its_cause(
    store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Writer) -> None:
        raise RuntimeError("writer bug")

    monkeypatch.setattr(Writer, "_write_next_batch", crash)
    store.submit(runs.move(runs.task(), Running()))
    # The thread wakes within its interval and dies (a flush first would write the
    # event itself, on its own thread).
    deadline = time.monotonic() + 10
    while store._writer._thread.is_alive():
        assert time.monotonic() < deadline, "the writer thread never ran"
        time.sleep(0.01)
    with pytest.raises(StoreError, match="writer stopped.*writer bug") as caught:
        store.flush()
    assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(StoreError, match="closed with 1 event"):
        store.close()


def test_flush_after_close_says_the_store_is_closed(store: Store) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.flush()


def test_sqlite_writers_wait_for_a_held_lock_instead_of_failing(tmp_path: Path, runs: Runs) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with Store(url) as store:
        other = create_store_engine(url)
        with write_engine(other).begin():  # BEGIN IMMEDIATE: holds the write lock
            store.submit(runs.move(runs.task(), Running()))
            time.sleep(0.5)
        other.dispose()
        store.flush()
    assert count_rows(url, "task_runs") == 1


@pytest.fixture
def sqlite_store(store: Store) -> Store:
    """The store, on SQLite only: there a flush writes on its own thread."""
    if store.shared:
        pytest.skip("a flush writes on its own thread on SQLite only")
    return store


def test_ctrl_c_during_a_flush_written_here_loses_nothing(
    sqlite_store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    real = Writer._execute
    interrupted: list[bool] = []

    def interrupt_once(self: Writer, *args: Any) -> None:
        if not interrupted and threading.current_thread() is threading.main_thread():
            interrupted.append(True)
            raise KeyboardInterrupt
        real(self, *args)

    monkeypatch.setattr(Writer, "_execute", interrupt_once)
    tasks = [runs.task(name=f"t{i}") for i in range(20)]
    for task in tasks:
        store.submit(runs.move(task, Completed()))
    with pytest.raises(KeyboardInterrupt):
        store.flush()  # written on this thread, interrupted in its transaction
    assert interrupted
    store.flush()  # the writer thread (or this one) writes them after all
    assert count_rows(store.url, "task_runs") == 20
    assert count_rows(store.url, "state_history") == 20  # once each


def test_a_flush_written_here_stops_at_its_timeout(
    store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Writer._execute

    def slow(self: Writer, *args: Any) -> None:
        time.sleep(0.05)
        real(self, *args)

    monkeypatch.setattr(Writer, "_execute", slow)
    monkeypatch.setattr("kernel_ext.store._writer.MAX_BATCH", 10)  # many batches
    for i in range(400):
        store.submit(runs.move(runs.task(name=f"t{i}"), Completed()))
    started = time.monotonic()
    with pytest.raises(StoreError, match="did not commit within 0.2 s"):
        store.flush(timeout=0.2)
    assert time.monotonic() - started < 2
    store.flush(timeout=None)
    assert count_rows(store.url, "task_runs") == 400


def test_a_connection_timeout_is_transient() -> None:
    from kernel_ext.store._dbapi import is_transient

    class OperationalError(Exception):  # as psycopg names its classes, without SQLSTATE
        sqlstate = None

    class ConnectionTimeout(OperationalError):
        pass

    class ProgrammingError(Exception):
        sqlstate = None

    assert is_transient(ConnectionTimeout("connection timeout expired"))
    assert not is_transient(ProgrammingError("syntax error"))


def test_ctrl_c_as_a_flush_written_here_commits_writes_nothing_twice(
    sqlite_store: Store, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    real_connect = Writer._connect
    interrupted: list[bool] = []

    class SignalAfterCommit:
        """The writer's connection; its first COMMIT on the main thread lands, then the
        Ctrl-C that came meanwhile is raised, as CPython raises it when a C call returns."""

        def __init__(self, connection: Any) -> None:
            self._connection = connection

        def __getattr__(self, name: str) -> Any:
            return getattr(self._connection, name)

        def commit(self) -> None:
            self._connection.commit()
            if not interrupted and threading.current_thread() is threading.main_thread():
                interrupted.append(True)
                raise KeyboardInterrupt

    monkeypatch.setattr(Writer, "_connect", lambda w: SignalAfterCommit(real_connect(w)))
    for i in range(20):
        store.submit(runs.move(runs.task(name=f"t{i}"), Completed()))
    with pytest.raises(KeyboardInterrupt):
        store.flush()
    assert interrupted
    store.flush()
    assert count_rows(store.url, "task_runs") == 20
    assert count_rows(store.url, "state_history") == 20  # not written again
