"""SQLite checkpoints: the writer thread moves the log into the file when it has nothing
to write, not the commit that crosses SQLite's threshold (often a flow's own flush)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from kernel_ext._states import Completed, Pending, Running
from kernel_ext.store import Store
from kernel_ext.store._checkpoints import AUTOMATIC_PAGES
from tests.store.helpers import Runs


@pytest.fixture
def sqlite_path(store: Store) -> str:
    if store.shared:
        pytest.skip("PostgreSQL has no write-ahead log file to checkpoint")
    path = make_url(store.url).database
    assert path
    return path


def _write_task_runs(store: Store, runs: Runs, count: int) -> None:
    for task in [runs.task(name=f"t{i}") for i in range(count)]:
        for state in (Pending(), Running(), Completed()):
            store.submit(runs.move(task, state))
    store.flush()


def _file_grows(path: str, size: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if os.path.getsize(path) > size:
            return True
        time.sleep(0.01)
    return False


def test_the_writer_checkpoints_once_it_has_nothing_to_write(
    store: Store, runs: Runs, sqlite_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kernel_ext.store import _checkpoints

    monkeypatch.setattr(_checkpoints, "EVERY", 0.0)
    _write_task_runs(store, runs, 10)
    time.sleep(0.3)  # the writer's checkpoint of what the store's creation wrote
    before = os.path.getsize(sqlite_path)

    # Fewer log pages than SQLite's default threshold (1,000): without the writer's own
    # checkpoint they would stay in the log, and the file would not grow.
    _write_task_runs(store, runs, 1_000)
    wal = os.path.getsize(sqlite_path + "-wal")
    assert 0 < wal < 1_000 * 4096

    assert _file_grows(sqlite_path, before, within=2.0)
    connection = sqlite3.connect(sqlite_path)
    try:
        assert connection.execute("SELECT count(*) FROM task_runs").fetchone() == (1_010,)
    finally:
        connection.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # forking with threads (3.12+)
def test_a_fork_waits_for_a_checkpoint_in_progress() -> None:
    """A child forked mid-checkpoint would hold SQLite's checkpoint lock for good."""
    from kernel_ext.store import _checkpoints

    entered, release = threading.Event(), threading.Event()

    def checkpoint() -> None:
        with _checkpoints._checkpointing:
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=checkpoint)
    thread.start()
    entered.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only exits
        os._exit(0 if _checkpoints._checkpointing.acquire(blocking=False) else 1)
    waited = time.monotonic() - started
    _, status = os.waitpid(child, 0)
    thread.join(5)
    assert waited >= 0.25  # the fork came after the checkpoint
    assert os.waitstatus_to_exitcode(status) == 0  # and the child's lock is free


def test_no_connection_of_the_store_checkpoints_a_short_log_itself(
    store: Store, runs: Runs, sqlite_path: str
) -> None:
    from kernel_ext.store._engine import create_store_engine

    _write_task_runs(store, runs, 1)
    cursor = store._writer._connection.cursor()  # the writer's own
    cursor.execute("PRAGMA wal_autocheckpoint")
    assert cursor.fetchone() == (AUTOMATIC_PAGES,)
    cursor.close()
    engine = create_store_engine(store.url)  # any other, as a slot or a heartbeat takes
    try:
        with engine.connect() as connection:
            setting = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    finally:
        engine.dispose()
    assert setting == AUTOMATIC_PAGES
