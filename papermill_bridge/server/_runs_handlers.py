"""Flow runs: list, read, logs, history, cancel, resume (answer its pause), output notebook.

    GET  runs?state=&deployment=&flow=&limit=   newest first
    GET  runs/{id}                              with its task_runs
    GET  runs/{id}/logs | runs/{id}/history
    GET  runs/{id}/graph                        its task runs as the notebook's RunGraph draws them
    POST runs/{id}/cancel                       Scheduled/Suspended: Cancelled; else Cancelling
    POST runs/{id}/resume                       {"answer": {...}, "key": null}
    GET  runs/{id}/output                       the output notebook of a deployment run
    POST runs/{id}/output/open                  copy it under the server's root to open in Lab

Paths are relative to /taskbook/api/.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext._errors import InputAlreadyAnswered
from kernel_ext._run_records import FlowRunId
from kernel_ext.store import get_store
from papermill_bridge.server._base import BadRequest, NotFound, TaskbookHandler, field
from papermill_bridge.server._deployment_handlers import read_deployment

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunRecord, InputRequestRecord

__all__ = ["ROUTES"]

_MAX_LIMIT = 1000


def list_runs(
    state: str | None,
    deployment: str | None,
    flow: str | None,
    limit: int,
    since: str | None = None,
) -> list[FlowRunRecord]:
    """The store filters by state and flow; a deployment's runs (its latest 1000) and the
    time window (``since``: created at or after) are filtered here."""
    start = _moment(since)
    if start is not None:
        wide = list_runs(state, deployment, flow, _MAX_LIMIT)
        return [r for r in wide if (_moment(r["created"]) or start) >= start][:limit]
    if deployment is None:
        return get_store().list_flow_runs(limit=limit, state=state, name=flow)
    read_deployment(deployment)  # 404 for an unknown one
    runs = get_store().list_runs_of_deployment(deployment, limit=_MAX_LIMIT)
    wanted = state.lower() if state else None
    runs = [
        r
        for r in runs
        if (wanted is None or wanted in (r["state"].lower(), r["state_type"].lower()))
        and (flow is None or flow in (r["flow_name"], r["name"]))
    ]
    return sorted(runs, key=lambda r: r["created"] or "", reverse=True)[:limit]


def resume(run_id: str, answer: Any, key: str | None, user: str) -> InputRequestRecord:
    """Answer the run's pending input; 409 if every request it had is settled already."""
    from kernel_ext import approvals

    asked = [
        r
        for r in get_store().list_input_requests(status=None, flow_run_id=FlowRunId(run_id))
        if key is None or r["key"] == key
    ]
    if asked and all(r["status"] != "pending" for r in asked):
        last = asked[0]
        by = f" by {last['answered_by']}" if last["answered_by"] else ""
        raise InputAlreadyAnswered(
            f"The run {run_id!r} is not waiting for input: its request {last['key']!r} was "
            f"{last['status']}{by}."
        )
    return approvals.answer(run_id, answer, user, key=key)


def output_notebook(run_id: str) -> dict[str, Any]:
    run = get_store().read_flow_run(FlowRunId(run_id))
    path = run.get("output_notebook")
    if not path:
        raise NotFound(
            f"The run {run_id!r} has no output notebook: only deployment runs that a worker "
            "started have one."
        )
    try:
        notebook: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"The output notebook of run {run_id!r} is gone from {path}.") from None
    return notebook


OUTPUTS_FOLDER = "taskbook-outputs"


def open_output_notebook(root: str, run_id: str) -> dict[str, str]:
    """Copy the run's output notebook to ``taskbook-outputs/<deployment>/<run id>.ipynb``
    under the server's root (the outputs live outside it) and give that relative path."""
    run = get_store().read_flow_run(FlowRunId(run_id))
    source = run.get("output_notebook")
    if not source:
        raise NotFound(
            f"The run {run_id!r} has no output notebook: only deployment runs that a worker "
            "started have one."
        )
    if not Path(source).is_file():
        raise NotFound(f"The output notebook of run {run_id!r} is gone from {source}.")
    deployment = run.get("deployment_name") or "runs"
    relative = f"{OUTPUTS_FOLDER}/{deployment}/{run_id}.ipynb"
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base / OUTPUTS_FOLDER):
        raise BadRequest(
            f"The deployment name {deployment!r} does not make a path under the server's root."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return {"path": target.relative_to(base).as_posix()}


def run_graph(run_id: str) -> dict[str, Any]:
    """The aggregated graph payload, exactly what the notebook widget draws."""
    from kernel_ext.widgets._aggregate import payload_from_store

    payload, _ = payload_from_store(run_id)  # RunNotFound (404) for an unknown id
    return dict(payload)


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"since must be an ISO 8601 time like 2026-11-25T06:00Z, got {text!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _limit(text: str | None) -> int:
    if text is None:
        return 50
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {_MAX_LIMIT}, got {text!r}.")
    return int(text)


class RunsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        query = self.query
        since = self.get_query_argument("since", None)  # empty is not a time: refused
        self.respond(
            lambda: list_runs(
                query("state"), query("deployment"), query("flow"), _limit(query("limit")), since
            )
        )


class RunHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: get_store().read_flow_run(FlowRunId(run_id)))


class RunLogsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: get_store().read_logs(FlowRunId(run_id)))


class RunGraphHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: run_graph(run_id))


class RunHistoryHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: get_store().read_history(FlowRunId(run_id)))


class CancelHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, run_id: str) -> None:
        self.respond(lambda: get_store().request_cancel(FlowRunId(run_id)))


class ResumeHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, run_id: str) -> None:
        def action() -> Any:
            data = self.body()
            return resume(run_id, data.get("answer"), field(data, "key", str), self.user_name())

        self.respond(action)


class OutputHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        self.respond(lambda: output_notebook(run_id))


class OpenOutputHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, run_id: str) -> None:
        root = str(self.settings["server_root_dir"])
        self.respond(lambda: open_output_notebook(root, run_id))


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"runs", RunsHandler),
    (r"runs/([^/]+)", RunHandler),
    (r"runs/([^/]+)/logs", RunLogsHandler),
    (r"runs/([^/]+)/history", RunHistoryHandler),
    (r"runs/([^/]+)/graph", RunGraphHandler),
    (r"runs/([^/]+)/cancel", CancelHandler),
    (r"runs/([^/]+)/resume", ResumeHandler),
    (r"runs/([^/]+)/output", OutputHandler),
    (r"runs/([^/]+)/output/open", OpenOutputHandler),
]
