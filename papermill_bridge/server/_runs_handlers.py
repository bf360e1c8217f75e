"""Flow runs: list, read, logs, history, cancel, resume (answer its pause), output notebook.

    GET  runs?state=&deployment=&flow=&limit=   newest first
    GET  runs?parent={id}                       the subflows of a flow run, newest first
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

import contextlib
import json
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext._errors import InputAlreadyAnswered
from kernel_ext._run_records import FlowRunId
from kernel_ext.store import get_store
from papermill_bridge.server._base import BadRequest, NotFound, TaskbookHandler, field, query_limit
from papermill_bridge.server._deployment_handlers import read_deployment

if TYPE_CHECKING:
    from kernel_ext.store.records import (
        DeletedRun,
        FlowRunDetail,
        FlowRunRecord,
        InputRequestRecord,
        LogRecord,
    )

__all__ = ["ROUTES"]


def list_runs(query: Callable[[str], str | None], limit: int) -> list[FlowRunRecord]:
    """Flow runs, newest first, filtered by the query's arguments (see the OpenAPI
    document: state, flow, q, tag, deployment, since, until, top_level, before, parent,
    ended_since)."""
    deployment = query("deployment")
    if deployment is not None:
        read_deployment(deployment)  # 404 for an unknown one
    return get_store().list_flow_runs(
        limit=limit,
        state=query("state"),
        name=query("flow"),
        search=query("q"),
        tag=query("tag"),
        deployment=deployment,
        since=_moment("since", query("since")),
        until=_moment("until", query("until")),
        top_level=_flag("top_level", query("top_level")),
        before=query("before"),
        parent=_run_id(query("parent")),
        ended_since=_moment("ended_since", query("ended_since")),
    )


def _run_id(text: str | None) -> FlowRunId | None:
    return None if text is None else FlowRunId(text)


def _flag(name: str, text: str | None) -> bool:
    if text is None or text in ("false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise BadRequest(f"{name} must be true or false, got {text!r}.")


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
    base = Path(root).resolve()
    target = _opened_copy(base, run)
    if target is None:
        raise BadRequest(
            f"The deployment name {run.get('deployment_name')!r} does not make a path under "
            "the server's root."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return {"path": target.relative_to(base).as_posix()}


def _opened_copy(base: Path, run: FlowRunRecord) -> Path | None:
    """Where "Open output notebook" copies the run's output under the server's root
    (None if the deployment's name would lead outside it)."""
    deployment = run.get("deployment_name") or "runs"
    target = (base / OUTPUTS_FOLDER / deployment / f"{run['id']}.ipynb").resolve()
    return target if target.is_relative_to(base / OUTPUTS_FOLDER) else None


def delete_run_and_copy(root: str, run_id: str) -> DeletedRun:
    """Delete the run (``papermill_bridge.delete_run``) and the copy of its output
    notebook that "Open output notebook" made under the server's root."""
    from papermill_bridge import delete_run

    run = get_store().read_flow_run(FlowRunId(run_id))
    copy = _opened_copy(Path(root).resolve(), run)
    untouched = copy is not None and _same_file(copy, run.get("output_notebook"))
    deleted = delete_run(FlowRunId(run_id))
    if copy is not None and untouched:  # a copy the user edited is theirs: it stays
        with contextlib.suppress(OSError):  # the run is gone; a copy we cannot remove stays
            copy.unlink(missing_ok=True)
    return deleted


def _same_file(copy: Path, source: str | None) -> bool:
    try:
        return source is not None and copy.read_bytes() == Path(source).read_bytes()
    except OSError:
        return False


def run_graph(run_id: str) -> dict[str, Any]:
    """The aggregated graph payload, exactly what the notebook widget draws."""
    from kernel_ext.widgets._aggregate import payload_from_store

    payload, _ = payload_from_store(run_id)  # RunNotFound (404) for an unknown id
    return dict(payload)


def _moment(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO 8601 time like 2026-11-25T06:00Z, got {text!r}."
        ) from None
    # In UTC: the store compares times as UTC (SQLite keeps no offset).
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment
        raise BadRequest(
            f"{name} {text!r} is out of range; give a time after the year 1."
        ) from None


class RunsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        def query(name: str) -> str | None:
            # Empty is no value for the text filters, and is refused for times and cursors.
            text = self.get_query_argument(name, None)
            return text if text or name in ("since", "until", "ended_since") else None

        limit = self.get_query_argument("limit", None)  # empty is not a number: refused
        self.respond(lambda: list_runs(query, query_limit(limit, 50)))


class RunHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        def read() -> FlowRunDetail:
            after = _whole("after", self.get_query_argument("after", None), 0, _MAX_ID)
            return get_store().read_flow_run(FlowRunId(run_id), changed_after=after)

        self.respond(read)

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def delete(self, run_id: str) -> None:
        root = str(self.settings["server_root_dir"])
        self.respond(lambda: delete_run_and_copy(root, run_id))


class RetryHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("execute")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, run_id: str) -> None:
        from papermill_bridge import retry_run

        self.respond(lambda: retry_run(FlowRunId(run_id)))


class RunLogsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, run_id: str) -> None:
        def query(name: str) -> str | None:
            return self.get_query_argument(name, None)  # empty is not a number: refused

        def read() -> list[LogRecord]:
            return get_store().read_logs(
                FlowRunId(run_id),
                after=_whole("after", query("after"), 0, _MAX_ID),
                tail=_whole("tail", query("tail"), 1, _MAX_TAIL),
                limit=_whole("limit", query("limit"), 1, _MAX_TAIL),
                min_level=_level(query("level")),
            )

        self.respond(read)


_MAX_TAIL = 10_000
_MAX_ID = 2**63 - 1  # the store's ids are 64-bit


def _whole(name: str, text: str | None, least: int, most: int | None) -> int | None:
    """A whole-number query argument in [least, most]; None if absent."""
    if text is None:
        return None
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else -1
    if number < least or (most is not None and number > most):
        bounds = f"from {least} to {most}" if most is not None else f"of at least {least}"
        raise BadRequest(f"{name} must be a whole number {bounds}, got {text!r}.")
    return number


_LEVELS = {
    name: number
    for name, number in logging.getLevelNamesMapping().items()
    if name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
}


def _level(text: str | None) -> int | None:
    """A log level by name (WARNING) or number (30); None if absent."""
    if text is None:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 3:
        return int(text)
    if text in _LEVELS or (text.upper() in _LEVELS and text == text.lower()):
        return _LEVELS[text.upper()]
    raise BadRequest(f"level must be one of {', '.join(_LEVELS)} or a number, got {text!r}.")


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
    (r"runs/([^/]+)/retry", RetryHandler),
    (r"runs/([^/]+)/resume", ResumeHandler),
    (r"runs/([^/]+)/output", OutputHandler),
    (r"runs/([^/]+)/output/open", OpenOutputHandler),
]
