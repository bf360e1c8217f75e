"""Events in, rows out: runs, states, history, logs and the results index."""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from kernel_ext._events import Event
from kernel_ext._states import Cached, Completed, Failed, Pending, Retrying, Running
from kernel_ext.store import Store
from kernel_ext.store._engine import create_store_engine
from kernel_ext.store._rows import COLUMNS, to_rows
from kernel_ext.store._schema import migrate
from kernel_ext.store._types import UTCDateTime, from_epoch, sqlite_epoch
from kernel_ext.store._writer import FlushTicket, Writer
from tests.store.helpers import Runs, count_rows


def test_a_flow_and_its_tasks_read_back_as_written(store: Store, runs: Runs) -> None:
    flow = runs.flow(parameters={"n": 3, "day": "2024-05-01"}, tags=("nightly",))
    extract = runs.task(flow, "extract", tags=("io",))
    load = runs.task(flow, "load", upstream=[extract.id], cache_key="k-load")
    for run in (flow, extract, load):
        store.submit(runs.move(run, Pending()))
        store.submit(runs.move(run, Running()))
    store.submit(runs.move(extract, Completed()))
    store.submit(runs.move(load, Cached(message="cache hit", details={"cache_key": "k-load"})))
    store.submit(runs.move(flow, Completed(message="All states completed.")))
    store.flush()

    record = store.read_flow_run(flow.id)
    assert record["id"] == flow.id
    assert (record["name"], record["flow_name"]) == ("etl-run", "etl")
    assert (record["state"], record["state_type"]) == ("Completed", "COMPLETED")
    assert record["state_message"] == "All states completed."
    assert record["parameters"] == {"n": 3, "day": "2024-05-01"}
    assert record["tags"] == ["nightly"]
    assert record["run_count"] == 1
    assert record["parent_task_run_id"] is None
    assert flow.start_time is not None and flow.end_time is not None
    assert record["duration"] == pytest.approx(flow.end_time - flow.start_time, abs=2e-6)
    assert datetime.fromisoformat(record["start_time"]).utcoffset() == timedelta(0)
    assert abs(datetime.fromisoformat(record["start_time"]).timestamp() - flow.start_time) < 1e-5

    tasks = record["task_runs"]
    assert [t["id"] for t in tasks] == [extract.id, load.id]
    assert tasks[1]["state"] == "Cached"
    assert tasks[1]["state_type"] == "COMPLETED"
    assert tasks[1]["upstream"] == [extract.id]
    assert tasks[1]["cache_key"] == "k-load"
    assert tasks[1]["task_key"] == "load-key"
    assert tasks[0]["tags"] == ["io"]
    assert store.read_task_run(load.id) == {**tasks[1], "failure": None}
    json.dumps(record)  # JSON-able as promised

    history = store.read_history(load.id)
    assert [(h["type"], h["name"]) for h in history] == [
        ("PENDING", "Pending"),
        ("RUNNING", "Running"),
        ("COMPLETED", "Cached"),
    ]
    assert history[-1]["message"] == "cache hit"
    assert history[-1]["details"] == {"cache_key": "k-load"}
    assert history[0]["details"] is None
    assert [h["timestamp"] for h in history] == sorted(h["timestamp"] for h in history)


def test_states_of_a_new_run_in_one_batch_make_one_row(runs: Runs) -> None:
    task = runs.task(name="fit")
    events = [runs.move(task, s()) for s in (Pending, Running, Completed)]
    task.cache_key = "set-after-the-events"

    rows = to_rows(events, sqlite_epoch)

    assert len(rows.task_runs) == 1
    row = dict(zip(COLUMNS["task_runs"], rows.task_runs[0], strict=True))
    assert row["state_name"] == "Completed"
    assert row["cache_key"] == "set-after-the-events"  # read at flush time
    names = [
        dict(zip(COLUMNS["state_history"], h, strict=True))["name"] for h in rows.state_history
    ]
    assert names == ["Pending", "Running", "Completed"]


@pytest.mark.parametrize(
    "seconds",
    [
        0.0,
        1e-6,
        0.9999995,
        59.9999996,
        1_700_000_000.5,
        1_732_560_000.123456,
        1_732_560_000.9999996,
        4e9,
    ],
)
def test_sqlite_times_written_by_the_writer_read_and_bind_back_the_same(seconds: float) -> None:
    """A time the writer stores reads back (to the microsecond) as the engine's time, and
    binding what was read gives the stored number again: a query for that time finds it."""
    dialect = sqlite.dialect()
    column = UTCDateTime()
    stored = sqlite_epoch(seconds)

    read = column.process_result_value(stored, dialect)

    assert read is not None
    assert abs(read - from_epoch(seconds)) <= timedelta(microseconds=1)
    assert column.process_bind_param(read, dialect) == stored
    assert column.process_bind_param(read.replace(tzinfo=None), dialect) == stored  # naive: UTC


def test_one_insert_statement_for_several_states_of_a_new_run(
    store_url: str, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_store_engine(store_url)
    migrate(engine)
    executed: list[tuple[str, int]] = []

    class Recording:
        """The writer's DBAPI cursor, noting each statement and its count of rows."""

        def __init__(self, cursor: Any) -> None:
            self.cursor = cursor

        def executemany(self, sql: str, rows: list[Any]) -> None:
            executed.append((sql.split("(")[0].strip(), len(rows)))
            self.cursor.executemany(sql, rows)

        def close(self) -> None:
            self.cursor.close()

    class Connection:
        def __init__(self, connection: Any) -> None:
            self.connection = connection

        def cursor(self) -> Recording:
            return Recording(self.connection.cursor())

    real = Writer._execute
    monkeypatch.setattr(Writer, "_execute", lambda w, c, rows: real(w, Connection(c), rows))
    tasks = [runs.task(name=f"t{i}") for i in range(3)]
    queue: deque[Event | FlushTicket] = deque(
        runs.move(t, s()) for t in tasks for s in (Pending, Running, Completed)
    )
    # The queue is full before the writer starts, so all nine events form one batch.
    writer = Writer(engine, queue)
    writer.flush(timeout=30)
    writer.stop(abandon=False)
    engine.dispose()

    assert ("INSERT INTO task_runs", 3) in executed
    assert ("INSERT INTO state_history", 9) in executed
    assert sum(1 for statement, _ in executed if statement == "INSERT INTO task_runs") == 1
    assert all(t.persisted for t in tasks)


def test_later_states_update_the_persisted_run(store: Store, runs: Runs) -> None:
    task = runs.task(name="train")
    store.submit(runs.move(task, Running()))
    assert not task.persisted  # the writer owns the flag, and flips it only on commit
    store.flush()
    assert task.persisted

    store.submit(runs.move(task, Failed(message="boom")))
    store.flush()
    store.submit(runs.move(task, Retrying()))
    task.upstream.append("upstream-added-late")
    store.submit(runs.move(task, Completed()))
    store.flush()

    record = store.read_task_run(task.id)
    assert record["state"] == "Completed"
    assert record["run_count"] == 2
    assert record["upstream"] == ["upstream-added-late"]
    assert record["end_time"] is not None
    assert [h["name"] for h in store.read_history(task.id)] == [
        "Running",
        "Failed",
        "Retrying",
        "Completed",
    ]
    assert count_rows(store.url, "task_runs") == 1


def test_a_resumed_run_object_with_a_known_id_updates_the_row(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    store.submit(runs.move(flow, Running()))
    store.flush()
    resumed = runs.flow(name=flow.flow_name)
    resumed.id = flow.id  # e.g. a suspended run re-executed in a new process
    store.submit(runs.move(resumed, Completed()))
    store.flush()
    assert store.read_flow_run(flow.id)["state"] == "Completed"


def test_log_lines_of_a_flow_and_its_tasks(store: Store, runs: Runs) -> None:
    flow = runs.flow()
    task = runs.task(flow)
    store.submit(runs.move(flow, Running()))
    store.submit(runs.move(task, Running()))
    store.submit(runs.log(flow, "flow starts"))
    store.submit(runs.log(task, "task says hi", level=30))
    orphan_log = runs.log(task, "logged without the flow id")
    store.submit(orphan_log._replace(flow_run_id=None))
    store.submit(runs.log(flow, "flow ends"))
    store.flush()

    lines = store.read_logs(flow.id)
    assert [line["message"] for line in lines] == [
        "flow starts",
        "task says hi",
        "logged without the flow id",
        "flow ends",
    ]
    assert lines[1]["level"] == 30
    assert lines[1]["level_name"] == "WARNING"
    assert lines[1]["logger"] == "taskbook.run"
    assert lines[1]["task_run_id"] == task.id
    flow_only = store.read_logs(flow.id, include_task_runs=False)
    assert [line["message"] for line in flow_only] == ["flow starts", "flow ends"]
    task_lines = store.read_logs(task.id)
    assert [line["message"] for line in task_lines] == [
        "task says hi",
        "logged without the flow id",
    ]


def test_results_lookup_returns_the_latest_unexpired(store: Store, runs: Runs) -> None:
    first, second, third = (runs.task(name=n) for n in ("a", "b", "c"))
    store.submit(runs.result(first, "key-1", "results/one", expires_in=3600))
    time.sleep(0.002)
    store.submit(runs.result(second, "key-1", "results/two", expires_in=None))
    time.sleep(0.002)
    store.submit(runs.result(third, "key-1", "results/expired", expires_in=-1))
    store.submit(runs.result(third, "key-2", "results/expired-too", expires_in=-1))
    store.submit(runs.result(third, None, "results/uncached"))  # not cached: no key
    store.flush()

    found = store.lookup_result("key-1")
    assert found is not None
    assert found["location"] == "results/two"
    assert found["task_run_id"] == second.id
    assert found["expiration"] is None
    assert store.lookup_result("key-2") is None
    assert store.lookup_result("never-stored") is None
    json.dumps(found)


def test_unusual_values_are_stored_not_fatal(store: Store, runs: Runs) -> None:
    class Frame:
        def __repr__(self) -> str:
            return "<Frame 3 rows>"

    flow = runs.flow(parameters={"df": Frame(), "nan": float("nan"), "ids": {3}})
    store.submit(runs.move(flow, Running(details={"when": datetime(2024, 1, 1)})))
    store.flush()
    assert store.read_flow_run(flow.id)["parameters"] == {
        "df": "<Frame 3 rows>",
        "nan": "nan",
        "ids": [3],
    }
    assert store.read_history(flow.id)[0]["details"] == {"when": "2024-01-01T00:00:00"}
