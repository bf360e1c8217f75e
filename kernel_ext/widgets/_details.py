"""The side panel's content for one task run, read from the store on request.

The browser asks when a node is clicked, so the graph itself stays small. What is sent is
bounded: the last ``MAX_LOGS`` log lines, the first ``MAX_UPSTREAM`` upstream runs (a
reduce after a 10,000-way map has 10,000), and tracebacks and messages clipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel_ext._errors import TaskbookError
from kernel_ext._run_records import TaskRunId
from kernel_ext.widgets._contract import DetailsReply, RunDetails

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import StateRecord

__all__ = ["MAX_LOGS", "MAX_UPSTREAM", "read_details", "reply_details"]

MAX_LOGS = 200
MAX_UPSTREAM = 50
_MAX_TEXT = 20_000
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
    return {
        "run": run,
        "history": history,
        "logs": logs[-MAX_LOGS:],
        "logs_omitted": max(0, len(logs) - MAX_LOGS),
        "upstream": [
            {"id": run_id, "name": name_of(run_id) or run_id} for run_id in upstream[:MAX_UPSTREAM]
        ],
        "upstream_omitted": max(0, len(upstream) - MAX_UPSTREAM),
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


def _clip(text: str) -> str:
    if len(text) <= _MAX_TEXT:
        return text
    return (
        f"{text[: _MAX_TEXT // 2]}\n… ({len(text) - _MAX_TEXT:,} characters left out) …\n"
        + (text[-_MAX_TEXT // 2 :])
    )


def _reply(task_run_id: str, details: RunDetails | None, error: str | None) -> DetailsReply:
    return {"type": "details", "task_run_id": task_run_id, "details": details, "error": error}
