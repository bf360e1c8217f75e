"""``taskbook artifacts``: what runs published (reports, tables, links, progress)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table

if TYPE_CHECKING:
    from kernel_ext.store.records import ArtifactRecord

__all__ = ["artifacts"]

_TYPES = ("markdown", "table", "progress", "image")


@cli.group()
def artifacts() -> None:
    """Artifacts of runs: markdown, tables, links, progress, images."""


@artifacts.command("ls")
@click.option("--run", "run_id", help="Only this flow run's (id or unique prefix), subflows too.")
@click.option("--key", help="Only this key's history.")
@click.option("--type", "kind", type=click.Choice(_TYPES), help="Only artifacts of this type.")
@click.option("--all", "every", is_flag=True, help="Every artifact, not only each key's latest.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many.")
@json_option
def list_artifacts(
    run_id: str | None,
    key: str | None,
    kind: str | None,
    every: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List artifacts, newest first: by default the latest of each key.

    \b
    Examples:
      taskbook artifacts ls                    # each key's latest
      taskbook artifacts ls --run 3f2a         # what one run published
      taskbook artifacts ls --key daily-report # that key's history
    """
    from kernel_ext._lookup import resolve_run_id
    from kernel_ext._run_records import FlowRunId
    from kernel_ext.store import get_store

    store = get_store()
    if run_id is not None:
        full = FlowRunId(resolve_run_id(store, run_id))
        records = [
            r
            for r in reversed(store.list_run_artifacts(full, limit=100_000))
            if (kind is None or r["type"] == kind) and (key is None or r["key"] == key)
        ][:limit]
    else:
        latest = not every and key is None
        records = store.list_artifacts(key=key, kind=kind, latest=latest, limit=limit)
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo(_nothing(run_id, key, every))
        return
    headers = ["ID", "KEY", "TYPE", "RUN", "CREATED", "SUMMARY"]
    click.echo(table(headers, [_row(r) for r in records]))


@artifacts.command("show")
@click.argument("key_or_id")
@json_option
def show_artifact(key_or_id: str, as_json: bool) -> None:
    """Show an artifact by its id, or a key's latest with its history."""
    from kernel_ext.store import get_store

    store = get_store()
    history = store.list_artifacts(key=key_or_id, limit=100)
    if history:
        record, older = history[0], history[1:]
    else:
        record, older = store.read_artifact(_artifact_id(key_or_id)), []
    if as_json:
        echo_json({**record, "history": older})
        return
    click.echo(_describe(record))
    click.echo("")
    click.echo(_body(record))
    if older:
        click.echo("")
        click.echo(f"History of {record['key']!r} ({len(older)} earlier):")
        click.echo(
            table(["ID", "RUN", "CREATED", "SUMMARY"], [_row(r)[:1] + _row(r)[3:] for r in older])
        )


def _artifact_id(text: str) -> str:
    import uuid

    from kernel_ext._errors import ArtifactNotFound

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ArtifactNotFound(
            f"No artifact has the key or id {text!r}; `taskbook artifacts ls` lists them.",
            artifact_id=text,
        ) from None


def _nothing(run_id: str | None, key: str | None, every: bool) -> str:
    if run_id is not None:
        return f"Run {run_id} has no artifacts."
    if key is not None:
        return f"No artifact has the key {key!r}; `taskbook artifacts ls` lists the keys."
    if every:
        return "No artifacts yet. A run creates one with create_markdown_artifact(...)."
    return (
        "No keyed artifacts yet (`taskbook artifacts ls --all` includes unkeyed ones). A run "
        "creates one with create_markdown_artifact('...', key='report')."
    )


def _row(record: ArtifactRecord) -> list[Any]:
    run = record["flow_run_id"]
    return [
        record["id"][:8],
        record["key"] or "-",
        record["type"],
        run[:8] if run else "-",
        local_time(record["created"]),
        _summary(record),
    ]


def _summary(record: ArtifactRecord) -> str:
    from kernel_ext._artifact_view import table_rows

    kind, data = record["type"], record["data"]
    if kind == "progress":
        return f"{float(data or 0):g}%"
    if kind == "table":
        columns, rows = table_rows(data)
        return f"{len(rows)} rows" + (f" x {len(columns)} columns" if columns else "")
    text = record["description"] or str(data)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 60 else first[:57] + "..."


def _describe(record: ArtifactRecord) -> str:
    where = f"run {record['flow_run_id'][:8]}" if record["flow_run_id"] else "no run"
    if record["task_run_id"]:
        where += f", task run {record['task_run_id'][:8]}"
    lines = [
        f"Artifact {record['id']} ({record['type']}, key {record['key'] or '-'}, {where})",
        f"Created {local_time(record['created'])}, updated {local_time(record['updated'])}",
    ]
    if record["description"]:
        lines.append(record["description"])
    return "\n".join(lines)


def _body(record: ArtifactRecord) -> str:
    from kernel_ext._artifact_view import table_rows

    if record["type"] == "table":
        columns, rows = table_rows(record["data"])
        return table(columns or [f"{i}" for i in range(len(rows[0]) if rows else 0)], rows)
    if record["type"] == "progress":
        return f"{float(record['data'] or 0):g}%"
    data = record["data"]
    return data if isinstance(data, str) else json.dumps(data, indent=2)
