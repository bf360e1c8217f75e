"""Builders shared by the store tests: runs and events as the engine makes them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from kernel_ext._events import LogEvent, ResultEvent, StateEvent
from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun, TaskRunId, new_id
from kernel_ext._states import State
from kernel_ext.store import Store
from kernel_ext.store._engine import create_store_engine

__all__ = [
    "QUERY_MODULES",
    "Runs",
    "count_rows",
    "modules_after",
    "notebook",
    "promote",
    "schedule_run",
]

# The store's query modules that neither a flow nor `taskbook runs ls` needs: they load
# with the first store method that runs them.
QUERY_MODULES = (
    "_artifact_rows",
    "_automation_evaluator",
    "_automation_rows",
    "_claims",
    "_deployment_runs",
    "_deployments",
    "_event_reads",
    "_event_writes",
    "_input_requests",
    "_limit_leases",
    "_lost_runs",
    "_metrics_reads",
    "_retention",
    "_run_admin",
    "_schedules",
    "_vault",
)


def modules_after(code: str, home: Path | None = None) -> set[str]:
    """The modules a new interpreter has loaded once it ran ``code`` (with a store in
    ``home``, if given)."""
    env = {**os.environ, "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    if home is not None:
        env["TASKBOOK_HOME"] = str(home)
        env.pop("TASKBOOK_STORE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


PARAMETERS = [{"name": "day", "type": "str", "default": "2024-05-01", "help": "which day"}]


def count_rows(url: str, table: str) -> int:
    """Rows in ``table``, read through a connection of its own (not the store's)."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    finally:
        engine.dispose()


class Runs:
    """Builds runs and events the way the engine does: mutate the run, then emit."""

    def flow(self, name: str = "etl", **fields: Any) -> FlowRun:
        fields.setdefault("flow_name", name)
        return FlowRun(id=FlowRunId(new_id()), name=f"{name}-run", **fields)

    def task(self, flow: FlowRun | None = None, name: str = "load", **fields: Any) -> TaskRun:
        fields.setdefault("task_key", f"{name}-key")
        flow_run_id = None if flow is None else flow.id
        return TaskRun(id=TaskRunId(new_id()), name=f"{name}-0", flow_run_id=flow_run_id, **fields)

    def move(self, run: FlowRun | TaskRun, state: State) -> StateEvent:
        """Put ``run`` in ``state`` (with start/end times and run count) and say so."""
        if state.is_running():
            run.run_count += 1
            run.start_time = run.start_time or state.timestamp
        if state.is_final():
            run.end_time = state.timestamp
        run.state = state
        return StateEvent(run, state)

    def log(self, run: FlowRun | TaskRun, message: str, level: int = 20) -> LogEvent:
        flow_id: str | None
        task_id: str | None
        if isinstance(run, FlowRun):
            flow_id, task_id = run.id, None
        else:
            flow_id, task_id = run.flow_run_id, run.id
        return LogEvent(flow_id, task_id, level, "taskbook.run", message, time.time())

    def result(
        self, run: TaskRun, key: str | None, location: str, expires_in: float | None = None
    ) -> ResultEvent:
        now = time.time()
        expiration = None if expires_in is None else now + expires_in
        return ResultEvent(run.id, key, location, now, expiration)


def notebook(*sources: str) -> str:
    """The text of an .ipynb with one code cell per source."""
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for source in sources
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def promote(store: Store, name: str = "nightly", *sources: str, **settings: Any) -> dict[str, Any]:
    """Promote a notebook made of ``sources`` (default: one cell) as deployment ``name``."""
    text = notebook(*(sources or ("print('hello')",)))
    settings.setdefault("parameters", PARAMETERS)
    return store.create_deployment_version(
        name=name,
        notebook_path=f"/projects/{name}.ipynb",
        notebook=text,
        notebook_sha256=hashlib.sha256(text.encode()).hexdigest(),
        **settings,
    )


def schedule_run(
    store: Store, deployment: dict[str, Any], scheduled_time: float | None = None, **fields: Any
) -> dict[str, Any] | None:
    """A run of ``deployment`` due at ``scheduled_time`` (now by default)."""
    fields.setdefault("id", new_id())
    fields.setdefault("name", f"run-{fields['id'][:8]}")
    fields.setdefault("parameters", {"day": "2024-05-02"})
    return store.create_scheduled_run(
        deployment_id=deployment["id"],
        deployment_version=deployment["version"]["version"],
        flow_name=deployment["name"],
        scheduled_time=time.time() if scheduled_time is None else scheduled_time,
        **fields,
    )
