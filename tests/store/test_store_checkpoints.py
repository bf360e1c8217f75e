"""SQLite checkpoints: the writer thread moves the log into the file when it has nothing
to write, not the commit that crosses SQLite's threshold (often a flow's own flush)."""

from __future__ import annotations

import os
import sqlite3
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
    store: Store, runs: Runs, sqlite_path: str
) -> None:
    _write_task_runs(store, runs, 10)
    assert _file_grows(sqlite_path, 0, within=2.0)  # the first batch reached the file
    time.sleep(0.2)
    before = os.path.getsize(sqlite_path)

    # Fewer log pages than SQLite's default threshold (1,000): without the writer's own
    # checkpoint they would stay in the log, and the file would not grow.
    _write_task_runs(store, runs, 1_000)
    wal = os.path.getsize(sqlite_path + "-wal")
    assert 0 < wal < 1_000 * 4096

    assert _file_grows(sqlite_path, before, within=2.0)
    with sqlite3.connect(sqlite_path) as connection:  # what was checkpointed is all there
        assert connection.execute("SELECT count(*) FROM task_runs").fetchone() == (1_010,)


def test_the_writers_connection_leaves_big_checkpoints_to_the_writer(
    store: Store, runs: Runs, sqlite_path: str
) -> None:
    _write_task_runs(store, runs, 1)
    connection = store._writer._connection  # the writer's own setting
    cursor = connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint")
    assert cursor.fetchone() == (AUTOMATIC_PAGES,)
    cursor.close()
