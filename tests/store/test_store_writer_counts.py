"""How many events the writer says are lost: exactly those that were not written.

A batch that fails for good is split until the culprits are alone, so when the store is
abandoned part of the batch in hand may already be committed, and part reported lost.
The counters are changed by the writer thread and read and reset by flushing threads.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from kernel_ext._errors import StoreError
from kernel_ext._events import Event
from kernel_ext._states import Running
from kernel_ext.store._engine import create_store_engine
from kernel_ext.store._rows import Rows
from kernel_ext.store._schema import migrate
from kernel_ext.store._writer import FlushTicket, Writer
from tests.store.helpers import Runs, count_rows

_real_execute = Writer._execute


def _names(rows: Rows) -> set[str]:
    return {str(row[1]).split("-")[0] for row in rows.task_runs}


def _picky_execute(self: Writer, connection: Connection, rows: Rows) -> None:
    """Writes ``kept`` runs; ``bad`` ones, or ``stuck`` ones mixed with others, fail for
    good (so the batch is split); ``stuck`` ones alone find the database locked forever."""
    names = _names(rows)
    if "bad" in names or ("stuck" in names and len(names) > 1):
        raise IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("NOT NULL failed"))
    if names == {"stuck"}:
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    _real_execute(self, connection, rows)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    made = create_store_engine(store_url)
    migrate(made)
    yield made
    made.dispose()


@pytest.fixture
def quiet_writer_log() -> Iterator[None]:
    """The writer logs each lost event with its traceback; these tests lose many."""
    writer_log = logging.getLogger("taskbook.store")
    writer_log.disabled = True
    yield
    writer_log.disabled = False


def _wait_until_stuck(writer: Writer) -> None:
    """Until the writer retries the ``stuck`` events: all the others are dealt with."""
    deadline = time.monotonic() + 30
    while writer.last_error is None:
        assert time.monotonic() < deadline, "the writer never got to the stuck events"
        time.sleep(0.01)


def _one_batch(runs: Runs, *names: str) -> deque[Event | FlushTicket]:
    # Queued before the writer starts, so the events form one batch.
    return deque(runs.move(runs.task(name=name), Running()) for name in names)


@pytest.mark.usefixtures("quiet_writer_log")
def test_abandoning_counts_only_the_part_of_the_batch_not_committed(
    engine: Engine, store_url: str, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Writer, "_execute", _picky_execute)
    writer = Writer(engine, _one_batch(runs, "kept", "kept", "stuck", "stuck"))
    _wait_until_stuck(writer)
    with pytest.raises(StoreError, match=r"2 event\(s\) are waiting"):
        writer.flush(timeout=0.2)
    assert writer.stop(abandon=True) == 2
    assert count_rows(store_url, "task_runs") == 2


@pytest.mark.usefixtures("quiet_writer_log")
def test_abandoning_does_not_count_an_event_already_counted_lost_again(
    engine: Engine, store_url: str, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Writer, "_execute", _picky_execute)
    writer = Writer(engine, _one_batch(runs, "kept", "bad", "stuck", "stuck"))
    _wait_until_stuck(writer)
    with pytest.raises(StoreError, match=r"2 event\(s\) are waiting"):
        writer.flush(timeout=0.2)
    assert writer.stop(abandon=True) == 3  # the bad one, and the two never written
    assert count_rows(store_url, "task_runs") == 1


def _reported(writer: Writer) -> int:
    """How many events ``flush`` would report lost now (and forget, as it does)."""
    try:
        writer._raise_failure()
    except StoreError as error:
        return int(str(error).split(" ", 1)[0])
    return 0


@pytest.mark.usefixtures("quiet_writer_log")
def test_a_failure_recorded_while_flush_reports_is_not_lost(tmp_path: Path) -> None:
    """Before each line of the report, the writer thread records one more failure: with
    the counters read and reset apart, those between the two would vanish."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'taskbook.db'}")
    migrate(engine)
    writer = Writer(engine, deque())
    error = RuntimeError("cannot write")
    writer._record_failure(error)
    recorders: list[threading.Thread] = []

    def record_one_more(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "line":
            recorder = threading.Thread(target=writer._record_failure, args=(error,))
            recorder.start()
            recorder.join(0.2)  # blocked on a lock the report holds: it records after
            recorders.append(recorder)
        return record_one_more

    def trace(frame: FrameType, event: str, _arg: Any) -> Any:
        return record_one_more if frame.f_code is Writer._raise_failure.__code__ else None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        reported = _reported(writer)
    finally:
        sys.settrace(previous)
    for recorder in recorders:
        recorder.join()
    reported += _reported(writer)
    writer.stop(abandon=False)
    engine.dispose()
    assert recorders and reported == 1 + len(recorders)
