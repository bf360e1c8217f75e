"""The span of a deployment run, opened by the executor that runs its notebook.

A deployment run's states are set in the store by its worker, not by an engine on the
event bus, so no process would trace the run itself. Its executor does, when tracing is
on: it opens the run's span at this attempt's first state (the worker's claim), with this
attempt's states so far as events, hands the span to the kernel in ``TRACEPARENT`` (the
kernel inherits the executor's environment), so the task runs and subflows of the
notebook land under it, and ends it with the outcome the worker is about to record.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime

from kernel_ext import tracing
from kernel_ext._run_records import FlowRun, FlowRunId
from kernel_ext._states import State, StateType
from kernel_ext.store import get_store
from kernel_ext.store.records import FlowRunRecord, StateRecord

__all__ = ["trace_run"]

_log = logging.getLogger("taskbook.tracing")

End = Callable[[State], None]
# The worker waits for its executor to exit: an unreachable collector must not hold it.
_EXPORT_SECONDS = 5.0


def trace_run(run_id: FlowRunId) -> End:
    """Open run ``run_id``'s span if tracing is on; returns what ends it with the
    outcome's state (a no-op when tracing is off or the run cannot be read)."""
    try:
        store = get_store()  # opening the store is what turns tracing on
        if not tracing.enabled():
            return _nothing
        record = store.read_flow_run(run_id)
        history = store.read_history(run_id)
    except Exception as error:  # tracing must never stop a run
        _log.warning("[taskbook] run %s is not traced: %s", run_id[:8], error)
        return _nothing
    run = FlowRun(record["id"], record["name"], record["flow_name"], tags=tuple(record["tags"]))
    attributes = _attributes(record)
    for state in _this_attempt(history):
        tracing.observe(run, state, **attributes)
    parent = tracing.traceparent(run.id)
    if parent is not None:
        os.environ["TRACEPARENT"] = parent
        os.environ.pop("TRACESTATE", None)

    def end(state: State) -> None:
        tracing.observe(run, state)
        tracing.flush(timeout=_EXPORT_SECONDS)

    return end


def _nothing(state: State) -> None:
    return None


def _attributes(record: FlowRunRecord) -> dict[str, str | int]:
    found: dict[str, str | int] = {"taskbook.run.attempt": record["run_count"]}
    if record["deployment_name"] is not None:
        found["taskbook.deployment.name"] = record["deployment_name"]
    if record["deployment_version"] is not None:
        found["taskbook.deployment.version"] = record["deployment_version"]
    return found


def _this_attempt(history: list[StateRecord]) -> list[State]:
    """The states since this attempt's claim (the latest Pending), oldest first."""
    start = max((i for i, s in enumerate(history) if s["type"] == StateType.PENDING), default=0)
    return [_state(record) for record in history[start:]]


def _state(record: StateRecord) -> State:
    moment = datetime.fromisoformat(record["timestamp"]) if record["timestamp"] else None
    return State(
        StateType(record["type"]),
        record["name"],
        record["message"],
        timestamp=None if moment is None else moment.timestamp(),
    )
