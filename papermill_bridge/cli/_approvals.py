"""``taskbook runs resume|reject`` and ``taskbook approvals ls``: answer paused runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table
from papermill_bridge.cli._runs import runs

if TYPE_CHECKING:
    from kernel_ext.store.records import InputRequestRecord

__all__ = ["approvals"]


@runs.command("resume")
@click.argument("run_id")
@click.option(
    "--input",
    "answer",
    default=None,
    help="""The answer as JSON, e.g. '{"approved": true, "feedback": "ok"}'.""",
)
@click.option("--key", default=None, help="Which pause, when a run waits at several.")
@json_option
def resume(run_id: str, answer: str | None, key: str | None, as_json: bool) -> None:
    """Resume a paused run (RUN_ID, a unique prefix, or an input request id)."""
    from kernel_ext import approvals

    request = approvals.answer(run_id, answer, key=key)
    if as_json:
        echo_json(request)
        return
    click.echo(
        f"Resumed {request['flow_run_id'][:8]} at {request['key']!r} as {request['answered_by']}."
    )


@runs.command("reject")
@click.argument("run_id")
@click.option("--reason", default=None, help="Why; stored with the run's history.")
@click.option("--key", default=None, help="Which pause, when a run waits at several.")
@json_option
def reject(run_id: str, reason: str | None, key: str | None, as_json: bool) -> None:
    """Reject a paused run: it ends Cancelled."""
    from kernel_ext import approvals

    request = approvals.reject(run_id, reason, key=key)
    if as_json:
        echo_json(request)
        return
    click.echo(f"Rejected {request['flow_run_id'][:8]} at {request['key']!r}.")


@cli.group()
def approvals() -> None:
    """Paused runs waiting for a person."""


@approvals.command("ls")
@click.option("--all", "show_all", is_flag=True, help="Also answered, rejected and expired.")
@json_option
def list_approvals(show_all: bool, as_json: bool) -> None:
    """List input requests of paused runs, newest first."""
    from kernel_ext.store import get_store

    requests = get_store().list_input_requests(status=None if show_all else "pending")
    if as_json:
        echo_json(requests)
        return
    if not requests:
        click.echo("Nothing is waiting for an answer.")
        return
    click.echo(
        table(["RUN", "FLOW", "KEY", "STATUS", "FIELDS", "ASKED"], [_row(r) for r in requests])
    )
    from kernel_ext.approvals import answer_hint

    waiting = [r for r in requests if r["status"] == "pending"]
    if waiting:
        click.echo("\nAnswer with (or reject with `taskbook runs reject RUN`):")
        for request in waiting[:5]:
            click.echo(f"  {answer_hint(request)}")


def _row(request: InputRequestRecord) -> list[Any]:
    fields = ", ".join(request["schema"].get("properties", {})) or "(resume/reject)"
    return [
        request["flow_run_id"][:8],
        request.get("flow_name"),
        request["key"],
        request["status"],
        fields,
        local_time(request["created"]),
    ]
