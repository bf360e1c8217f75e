"""``taskbook runs``: list flow runs, show one with its task runs, print its logs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import click

from kernel_ext._errors import RunNotFound
from kernel_ext._lookup import resolve_run_id
from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext._states import StateType, parse_state_filter
from kernel_ext.store import get_store
from papermill_bridge import run_link
from papermill_bridge.cli._app import LazyGroup, cli, echo_json, json_option
from papermill_bridge.cli._format import duration, local_time, table

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import (
        FailureRecord,
        FlowRunDetail,
        FlowRunRecord,
        TaskRunDetail,
        TaskRunRecord,
    )

__all__ = ["echo_failure", "runs", "waiting_hints"]


# The sub-commands other modules add (``ls``, ``show`` and ``logs`` are here).
_ELSEWHERE = {
    "cancel": "_deployments",
    "delete": "_deployments",
    "reject": "_approvals",
    "resume": "_approvals",
    "retry": "_deployments",
}


@cli.group(cls=LazyGroup, lazy=_ELSEWHERE)
def runs() -> None:
    """Flow runs and their task runs."""


@runs.command("ls")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many.")
@click.option("--state", help="Only runs in this state (e.g. Failed, Completed).")
@click.option("--flow", "flow_name", help="Only runs of this flow.")
@json_option
def list_runs(limit: int, state: str | None, flow_name: str | None, as_json: bool) -> None:
    """List flow runs, newest first."""
    if state is not None:
        state = parse_state_filter(state)
    rows = get_store().list_flow_runs(limit=limit, state=state, name=flow_name)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        if state is not None or flow_name is not None:
            click.echo("No flow runs match; `taskbook runs ls` lists them all.")
        else:
            click.echo("No flow runs yet. Run a flow, e.g. `taskbook demo`.")
        return
    click.echo(
        table(
            ["ID", "FLOW", "NAME", "STATE", "STARTED", "DURATION"],
            [_run_row(r) for r in rows],
        )
    )


@runs.command("show")
@click.argument("run_id")
@json_option
def show_run(run_id: str, as_json: bool) -> None:
    """Show a flow run (RUN_ID or a unique prefix) with its task runs, or one task run."""
    store = get_store()
    full_id = resolve_run_id(store, run_id)
    try:
        run = store.read_flow_run(FlowRunId(full_id))
    except RunNotFound:
        task_run = store.read_task_run(TaskRunId(full_id))
        if as_json:
            echo_json(task_run)
        else:
            _show_task_run(store, task_run)
        return
    if as_json:
        echo_json(run)
        return
    _show_flow_run(store, run)


def _show_flow_run(store: Store, run: FlowRunDetail) -> None:
    click.echo(f"Flow run {run['name']} ({run['id']})")
    click.echo(f"  flow:       {run['flow_name']}")
    click.echo(f"  state:      {run['state']}")
    click.echo(f"  started:    {local_time(run['start_time'])}")
    click.echo(f"  duration:   {duration(run['duration'])}")
    if run["parameters"]:
        click.echo(f"  parameters: {run['parameters']}")
    if run.get("deployment_name"):
        click.echo(f"  deployment: {run['deployment_name']} v{run.get('deployment_version')}")
    if run.get("state_message"):
        click.echo(f"  message:    {run['state_message']}")
    if run.get("output_notebook"):
        click.echo(f"  output:     {run['output_notebook']}")
    link = run_link(run["id"])
    if link:
        click.echo(f"  in Lab:     {link}")
    for hint in waiting_hints(store, run):
        click.echo(f"  answer:     {hint}")
    echo_failure(run.get("failure"))
    tasks = run["task_runs"]
    click.echo(f"\n{len(tasks)} task runs")
    if not tasks:
        return
    names: dict[str, str] = {t["id"]: t["name"] for t in tasks}
    click.echo(
        table(
            ["ID", "NAME", "STATE", "ATTEMPTS", "DURATION", "UPSTREAM"],
            [_task_row(t, names) for t in tasks],
        )
    )


def _show_task_run(store: Store, run: TaskRunDetail) -> None:
    click.echo(f"Task run {run['name']} ({run['id']})")
    flow_run_id = run["flow_run_id"]
    if flow_run_id:
        try:
            flow_run = store.read_flow_run(flow_run_id)
            of = f"{flow_run['name']} ({flow_run_id[:8]}, flow {flow_run['flow_name']})"
        except RunNotFound:  # e.g. written by a Dask worker before its flow run's row
            of = flow_run_id
        click.echo(f"  flow run:   {of}")
    click.echo(f"  state:      {run['state']}")
    click.echo(f"  attempts:   {run['run_count']}")
    click.echo(f"  started:    {local_time(run['start_time'])}")
    click.echo(f"  duration:   {duration(run['duration'])}")
    if run.get("state_message"):
        click.echo(f"  message:    {run['state_message']}")
    echo_failure(run.get("failure"))


def waiting_hints(store: Store, run: FlowRunRecord) -> list[str]:
    """How to answer a paused run: one command per pending input request."""
    if run["state_type"] != StateType.PAUSED:
        return []
    from kernel_ext.approvals import answer_hint

    pending = store.list_input_requests(status="pending", flow_run_id=run["id"])
    return [answer_hint(request, with_key=len(pending) > 1) for request in pending]


def echo_failure(failure: FailureRecord | None) -> None:
    """The failing cell, the exception and the traceback of a failed run."""
    if not failure:
        return
    if failure.get("cell_number") is not None:
        first = (failure.get("cell_source") or "").strip().splitlines()[:1]
        click.echo(f"  cell:       {failure['cell_number']}" + (f"  {first[0]}" if first else ""))
    if failure.get("exception_type"):
        click.echo(f"  exception:  {failure['exception_type']}")
    if failure.get("traceback"):
        click.echo("\nTraceback:")
        click.echo(failure["traceback"].rstrip())


def _run_row(run: FlowRunRecord) -> list[Any]:
    started = local_time(run["start_time"])
    return [
        run["id"][:8],
        run["flow_name"],
        run["name"],
        run["state"],
        started,
        duration(run["duration"]),
    ]


def _task_row(run: TaskRunRecord, names: dict[str, str]) -> list[Any]:
    upstream = ", ".join(names.get(u, u[:8]) for u in run["upstream"])
    return [
        run["id"][:8],
        run["name"],
        run["state"],
        run["run_count"],
        duration(run["duration"]),
        upstream,
    ]


@runs.command("logs")
@click.argument("run_id")
@json_option
def run_logs(run_id: str, as_json: bool) -> None:
    """Print the logs of a flow run (with its task runs) or of one task run."""
    store = get_store()
    entries = store.read_logs(FlowRunId(resolve_run_id(store, run_id)))
    if as_json:
        echo_json(entries)
        return
    for entry in entries:
        level = (
            entry["level"]
            if isinstance(entry["level"], str)
            else logging.getLevelName(entry["level"])
        )
        click.echo(f"{local_time(entry['timestamp'])} | {level:<7} | {entry['message']}")
