"""``taskbook runs``: list flow runs, show one with its task runs, print its logs."""

from __future__ import annotations

import logging
from typing import Any

import click

from kernel_ext._lookup import resolve_run_id
from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import duration, local_time, table

__all__ = ["runs"]


def _store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


@cli.group()
def runs() -> None:
    """Flow runs and their task runs."""


@runs.command("ls")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many.")
@click.option("--state", help="Only runs in this state (e.g. Failed, Completed).")
@click.option("--flow", "flow_name", help="Only runs of this flow.")
@json_option
def list_runs(limit: int, state: str | None, flow_name: str | None, as_json: bool) -> None:
    """List flow runs, newest first."""
    rows = _store().list_flow_runs(limit=limit, state=state, name=flow_name)
    if as_json:
        echo_json(rows)
        return
    if not rows:
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
    """Show a flow run (RUN_ID or a unique prefix) with its task runs."""
    store = _store()
    run = store.read_flow_run(resolve_run_id(store, run_id))
    if as_json:
        echo_json(run)
        return
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
    tasks = run["task_runs"]
    click.echo(f"\n{len(tasks)} task runs")
    if not tasks:
        return
    names = {t["id"]: t["name"] for t in tasks}
    click.echo(
        table(
            ["ID", "NAME", "STATE", "ATTEMPTS", "DURATION", "UPSTREAM"],
            [_task_row(t, names) for t in tasks],
        )
    )


def _run_row(run: dict[str, Any]) -> list[Any]:
    started = local_time(run["start_time"])
    return [run["id"][:8], run["flow_name"], run["name"], run["state"], started,
            duration(run["duration"])]  # fmt: skip


def _task_row(run: dict[str, Any], names: dict[str, str]) -> list[Any]:
    upstream = ", ".join(names.get(u, u[:8]) for u in run["upstream"])
    return [run["id"][:8], run["name"], run["state"], run["run_count"],
            duration(run["duration"]), upstream]  # fmt: skip


@runs.command("logs")
@click.argument("run_id")
@json_option
def run_logs(run_id: str, as_json: bool) -> None:
    """Print the logs of a flow run (with its task runs) or of one task run."""
    store = _store()
    entries = store.read_logs(resolve_run_id(store, run_id))
    if as_json:
        echo_json(entries)
        return
    for entry in entries:
        level = entry["level"] if isinstance(entry["level"], str) else logging.getLevelName(
            entry["level"]
        )
        click.echo(f"{local_time(entry['timestamp'])} | {level:<7} | {entry['message']}")
