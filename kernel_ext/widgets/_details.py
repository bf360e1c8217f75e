"""The side panel's content for one task run, read from the store on request.

The browser asks when a node is clicked, so the graph itself stays small. What is sent is
bounded: the last ``MAX_LOGS`` log lines, the first ``MAX_UPSTREAM`` upstream runs (a
reduce after a 10,000-way map has 10,000), the newest ``MAX_ARTIFACTS`` artifacts (a
table's first ``MAX_TABLE_ROWS`` rows), and tracebacks, messages and markdown clipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel_ext._errors import TaskbookError
from kernel_ext._run_records import TaskRunId
from kernel_ext.widgets._contract import ArtifactSummary, DetailsReply, RunDetails

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import ArtifactRecord, StateRecord

__all__ = [
    "MAX_ARTIFACTS",
    "MAX_LOGS",
    "MAX_TABLE_ROWS",
    "MAX_UPSTREAM",
    "read_details",
    "reply_details",
]

MAX_LOGS = 200
MAX_UPSTREAM = 50
MAX_ARTIFACTS = 20
MAX_TABLE_ROWS = 50  # as under a cell; the run's page shows more
_MAX_TEXT = 20_000
_MAX_CELL = 1_000
# A data: URL longer than this is not sent (the run's page shows it); a web URL never is.
_MAX_IMAGE_URL = 1_000_000
_FLUSH_TIMEOUT = 5.0

NameOf = Callable[[str], str | None]


def reply_details(store: Store, task_run_id: object, name_of: NameOf) -> DetailsReply:
    """Answer a details request; a failure to read becomes the reply's ``error``."""
    if not isinstance(task_run_id, str) or not task_run_id:
        return _reply(str(task_run_id), None, "The request named no task run.")
    try:
        store.flush(timeout=_FLUSH_TIMEOUT)
        return _reply(task_run_id, read_details(store, task_run_id, name_of), None)
    except TaskbookError as error:
        return _reply(task_run_id, None, str(error))


def read_details(store: Store, task_run_id: str, name_of: NameOf) -> RunDetails:
    detail = store.read_task_run(TaskRunId(task_run_id))
    run: dict[str, Any] = dict(detail)
    failure = run.pop("failure", None)  # sent as ``error`` below, clipped
    history = store.read_history(detail["id"])
    logs = store.read_logs(detail["id"])
    for line in logs:
        line["message"] = _clip(line["message"])
    upstream = detail["upstream"]
    newest = store.list_artifacts(task_run_id=detail["id"], limit=MAX_ARTIFACTS + 1)
    return {
        "run": run,
        "history": history,
        "logs": logs[-MAX_LOGS:],
        "logs_omitted": max(0, len(logs) - MAX_LOGS),
        "upstream": [
            {"id": run_id, "name": name_of(run_id) or run_id} for run_id in upstream[:MAX_UPSTREAM]
        ],
        "upstream_omitted": max(0, len(upstream) - MAX_UPSTREAM),
        "artifacts": [_summary(a) for a in reversed(newest[:MAX_ARTIFACTS])],
        "more_artifacts": len(newest) > MAX_ARTIFACTS,
        "result": _result_location(history),
        "error": _clipped(failure, detail["state"]),
    }


def _result_location(history: list[StateRecord]) -> str | None:
    for state in reversed(history):
        location = (state["details"] or {}).get("result")
        if isinstance(location, str):
            return location
    return None


def _clipped(failure: dict[str, Any] | None, state: str) -> dict[str, str] | None:
    """The store's failure of a run that ended in one (exception, traceback), clipped."""
    if not failure:
        return None
    return {
        "exception_type": str(failure.get("exception_type") or state),
        "message": _clip(failure.get("message") or ""),
        "traceback": _clip(str(failure.get("traceback") or "")),
    }


def _summary(record: ArtifactRecord) -> ArtifactSummary:
    """The artifact with its data cut to what the panel shows, in the shape it has."""
    data, omitted = record["data"], 0
    if record["type"] == "markdown" and isinstance(data, str):
        data, omitted = _clip(data), max(0, len(data) - _MAX_TEXT)
    elif record["type"] == "table":
        data, omitted = _first_rows(data)
    elif record["type"] == "image" and isinstance(data, str) and len(data) > _MAX_IMAGE_URL:
        omitted, data = len(data), None
    description = record["description"]
    return {
        "id": record["id"],
        "key": record["key"],
        "type": record["type"],
        "data": data,
        "description": _clip(description) if description else description,
        "flow_run_id": record["flow_run_id"],
        "task_run_id": record["task_run_id"],
        "created": record["created"],
        "updated": record["updated"],
        "omitted": omitted,
    }


def _first_rows(table: Any) -> tuple[Any, int]:
    """A table's first ``MAX_TABLE_ROWS`` rows, long cells clipped, and how many are left."""
    if isinstance(table, dict):
        columns = {k: v if isinstance(v, list) else [] for k, v in table.items()}
        depth = max((len(v) for v in columns.values()), default=0)
        cut = {k: [_cell(c) for c in v[:MAX_TABLE_ROWS]] for k, v in columns.items()}
        return cut, max(0, depth - MAX_TABLE_ROWS)
    if not isinstance(table, list):
        return table, 0
    rows = [_row(row) for row in table[:MAX_TABLE_ROWS]]
    return rows, max(0, len(table) - MAX_TABLE_ROWS)


def _row(row: Any) -> Any:
    if isinstance(row, dict):
        return {k: _cell(v) for k, v in row.items()}
    return [_cell(v) for v in row] if isinstance(row, list) else _cell(row)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_CELL:
        return f"{value[:_MAX_CELL]}… ({len(value) - _MAX_CELL:,} characters left out)"
    return value


def _clip(text: str) -> str:
    if len(text) <= _MAX_TEXT:
        return text
    return (
        f"{text[: _MAX_TEXT // 2]}\n… ({len(text) - _MAX_TEXT:,} characters left out) …\n"
        + (text[-_MAX_TEXT // 2 :])
    )


def _reply(task_run_id: str, details: RunDetails | None, error: str | None) -> DetailsReply:
    return {"type": "details", "task_run_id": task_run_id, "details": details, "error": error}
