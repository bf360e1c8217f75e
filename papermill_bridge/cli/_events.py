"""``taskbook events``: what happened, as events (state changes, deployments, user code)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table
from papermill_bridge.cli._store import _duration

if TYPE_CHECKING:
    from kernel_ext.store.records import EventRow

__all__ = ["events"]

_FOLLOW_EVERY = 1.0


@cli.group()
def events() -> None:
    """Events: every state change of a run, deployment and schedule changes, answers to
    paused runs, and the events flows emit (emit_event)."""


@events.command("ls")
@click.option(
    "--event",
    "names",
    multiple=True,
    help="Only events with this name; * at the end matches a prefix, ! in front excludes "
    "(repeat for several): prefect.flow-run.Failed, 'prefect.deployment.*'.",
)
@click.option("--resource", help="Only events of this resource id (* at the end: a prefix).")
@click.option("--since", callback=_duration, help="Only events of the last 1h, 2d, ...")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many.")
@click.option("--follow", "-f", is_flag=True, help="Then print new events as they come (Ctrl-C).")
@json_option
def list_events(
    names: tuple[str, ...],
    resource: str | None,
    since: float | None,
    limit: int,
    follow: bool,
    as_json: bool,
) -> None:
    """List events, newest last.

    \b
    Examples:
      taskbook events ls                                   # the latest 50
      taskbook events ls --event 'prefect.flow-run.*' --since 1h
      taskbook events ls --resource prefect.flow-run.3f2a... --json
      taskbook events ls -f --event '!prefect.task-run.*'  # follow, without task runs
    """
    from kernel_ext.store import get_store

    store = get_store()
    start = None if since is None else datetime.now(UTC) - timedelta(seconds=since)
    cursor = store.event_cursor()
    rows = store.list_events(since=start, names=names, resource=resource, limit=limit)
    rows.reverse()
    # Rows committed after the cursor was read may be listed and then read again.
    shown = {row.event.id for row in rows}
    if as_json and not follow:
        echo_json([_as_json(row) for row in rows])
        return
    _print(rows, as_json, header=True)
    if not follow:
        if not rows and not as_json:
            click.echo("No events yet." if not names and resource is None else "No such events.")
        return
    try:
        while True:
            time.sleep(_FOLLOW_EVERY)
            rows, cursor = store.events_after(cursor, names=names, resource=resource)
            fresh = [row for row in rows if row.event.id not in shown]
            shown = {row.event.id for row in fresh}
            if fresh:
                _print(fresh, as_json, header=False)
    except KeyboardInterrupt:
        return


@events.command("emit")
@click.argument("event")
@click.option("--resource-id", required=True, help="The resource's prefect.resource.id.")
@click.option("--label", "labels", multiple=True, help="Another resource label, KEY=VALUE.")
@click.option("--payload", default="{}", help="The payload, a JSON object.")
@json_option
def emit(
    event: str, resource_id: str, labels: tuple[str, ...], payload: str, as_json: bool
) -> None:
    """Emit an event, as emit_event() does from a flow (for automations to react to).

    \b
    Example:
      taskbook events emit warehouse.file.arrived --resource-id warehouse.file.sales.csv \\
        --payload '{"path": "s3://landing/sales.csv"}'
    """
    from kernel_ext.events import emit_event
    from kernel_ext.store import get_store

    if not resource_id.strip():
        raise click.BadParameter("must not be empty.", param_hint="--resource-id")
    extra = dict(_label(text) for text in labels)
    if "prefect.resource.id" in extra:
        raise click.BadParameter("give the resource id as --resource-id.", param_hint="--label")
    resource = {"prefect.resource.id": resource_id, **extra}
    emitted = emit_event(event, resource, payload=_payload(payload))
    if emitted is None:  # not valid: emit_event logged why, as Prefect's does
        raise click.ClickException(
            f"The event {event!r} was not emitted: its resource needs a non-empty --resource-id."
        )
    get_store().flush()
    if as_json:
        echo_json(emitted.to_json())
    else:
        click.echo(f"Emitted {event} ({emitted.id}).")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE.", param_hint="--label")
    return key, value


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON ({error.msg}).", param_hint="--payload") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object: {...}.", param_hint="--payload")
    return value


def _as_json(row: EventRow) -> dict[str, Any]:
    as_json: dict[str, Any] = row.event.to_json()
    return as_json


def _print(rows: list[EventRow], as_json: bool, header: bool) -> None:
    if as_json:  # one JSON object per line while following
        for row in rows:
            click.echo(json.dumps(_as_json(row), default=str))
        return
    if not rows:
        return
    lines = table(["OCCURRED", "EVENT", "RESOURCE", "NAME"], [_row(row) for row in rows])
    click.echo(lines if header else "\n".join(lines.splitlines()[1:]))


def _row(row: EventRow) -> list[str]:
    event = row.event
    return [
        local_time(event.occurred.isoformat()),
        event.event,
        event.resource.id,
        event.resource.name or "",
    ]
