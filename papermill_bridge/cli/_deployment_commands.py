"""``taskbook deployments``: list, show (versions and what changed), pause, resume,
delete, and replace the schedules of a deployment; the schedule options ``deploy``
shares."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kernel_ext.store import get_store
from papermill_bridge.cli._app import LazyGroup, cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table

if TYPE_CHECKING:
    pass

__all__ = ["deployments", "now", "schedule_options"]

F = TypeVar("F", bound=Callable[..., Any])


def schedule_options(command: F) -> F:
    """--cron, --timezone, --interval and --catchup, as ``deploy`` and ``deployments
    schedule`` take them."""
    options = [
        click.option("--cron", help='Cron schedule, e.g. "0 6 * * *" (evaluated in --timezone).'),
        click.option(
            "--timezone",
            default=None,
            help="IANA time zone of --cron (and of --interval's slots); default UTC.",
        ),
        click.option("--interval", help="Fixed interval, e.g. 15m, 2h, 1d."),
        click.option(
            "--catchup",
            type=click.Choice(["latest", "all"]),
            default="latest",
            show_default=True,
            help="Missed slots: run the most recent once, or all.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.group(cls=LazyGroup, lazy={"retention": "_store"})  # the other sub-commands are here
def deployments() -> None:
    """Deployments: versions, schedules, pause and resume."""


@deployments.command("ls")
@json_option
def list_deployments(as_json: bool) -> None:
    """List deployments with their schedules and last run."""
    from papermill_bridge.schedules import schedule_from_dict

    rows = get_store().list_deployments()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No deployments yet: `taskbook deploy NOTEBOOK --name NAME`.")
        return
    click.echo(
        table(
            ["NAME", "VERSION", "SCHEDULES", "PAUSED", "LAST RUN"],
            [
                [
                    d["name"],
                    d.get("version"),
                    "; ".join(schedule_from_dict(s["spec"]).describe() for s in d["schedules"])
                    or "-",
                    "yes" if d["paused"] else "",
                    d.get("last_run_state") or "-",
                ]
                for d in rows
            ],
        )
    )


@deployments.command("show")
@click.argument("name")
@json_option
def show_deployment(name: str, as_json: bool) -> None:
    """Show a deployment: versions (and what changed), schedules, next runs."""
    from papermill_bridge import version_summaries
    from papermill_bridge.schedules import schedule_from_dict

    store = get_store()
    deployment = store.read_deployment(name)
    versions = deployment["versions"]
    changes = version_summaries(deployment["name"], versions, newest=len(versions))
    if as_json:
        echo_json({**deployment, "changes": changes})
        return
    click.echo(f"Deployment {deployment['name']}{' (paused)' if deployment['paused'] else ''}")
    for version in versions:  # newest first
        what = "; ".join(changes[version["version"]])
        click.echo(
            f"  v{version['version']}  {local_time(version['created'])}  "
            f"{version['notebook_sha256'][:12]}  {what}"
        )
    from papermill_bridge import describe

    click.echo(f"  parameters: {describe(versions[0]['parameters'])}")
    for schedule in deployment["schedules"]:
        spec = schedule_from_dict(schedule["spec"])
        upcoming = spec.next_after(now())
        when = f"{upcoming.astimezone():%Y-%m-%d %H:%M}"
        click.echo(f"  schedule: {spec.describe()}; next run {when}")


def now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@deployments.command("pause")
@click.argument("name")
@json_option
def pause(name: str, as_json: bool) -> None:
    """Pause a deployment: no new scheduled runs, and queued ones wait until it resumes."""
    _report(get_store().set_deployment_paused(name, True), as_json, f"Paused {name}.")


@deployments.command("resume")
@click.argument("name")
@json_option
def resume(name: str, as_json: bool) -> None:
    """Resume a deployment's schedules."""
    _report(get_store().set_deployment_paused(name, False), as_json, f"Resumed {name}.")


@deployments.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete_deployment(name: str, yes: bool, as_json: bool) -> None:
    """Delete a deployment with its versions, schedules and runs not started yet; the runs
    that started stay on record."""
    from papermill_bridge import delete_deployment as delete

    deployment = get_store().read_deployment(name)  # DeploymentNotFound before asking
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "Nobody is here to confirm: pass --yes to delete the deployment."
            )
        question = (
            f"Delete deployment {deployment['name']} ({len(deployment['versions'])} version(s), "
            f"{len(deployment['schedules'])} schedule(s)) and its runs not started yet?"
        )
        click.confirm(question, abort=True, err=True)
    deleted = delete(deployment["id"])
    if as_json:
        echo_json(deleted)
    else:
        click.echo(
            f"Deleted deployment {deleted['name']} with {len(deleted['versions'])} version(s), "
            f"{len(deleted['schedules'])} schedule(s) and {deleted['deleted_runs']} run(s) not "
            "started yet; the runs that started stay on record."
        )


@deployments.command("schedule")
@click.argument("name")
@schedule_options
@click.option("--clear", is_flag=True, help="Remove every schedule.")
@json_option
def schedule(
    name: str,
    cron: str | None,
    timezone: str | None,
    interval: str | None,
    clear: bool,
    catchup: str,
    as_json: bool,
) -> None:
    """Replace the schedules of deployment NAME with one (--cron or --interval), or none
    (--clear). Runs not started yet of a schedule that goes are deleted with it."""
    from papermill_bridge import set_schedules
    from papermill_bridge.schedules import schedule_from_dict

    if clear == (cron is not None or interval is not None):
        raise click.UsageError("Give --cron or --interval, or --clear to remove every schedule.")
    if cron is not None and interval is not None:
        raise click.UsageError("Give --cron or --interval, not both.")
    if clear and timezone is not None:
        raise click.UsageError("--timezone applies to a schedule; give --cron or --interval.")
    entries: list[dict[str, Any]] = []
    if not clear:
        entries.append(
            {"cron": cron, "interval": interval, "timezone": timezone, "catchup": catchup}
        )
    replaced = set_schedules(name, entries)
    if as_json:
        echo_json(replaced)
        return
    for entry in replaced["schedules"]:
        spec = schedule_from_dict(entry["spec"])
        when = f"{spec.next_after(now()).astimezone():%Y-%m-%d %H:%M}"
        click.echo(f"Deployment {name}: {spec.describe()}; next run {when}.")
    if not replaced["schedules"]:
        click.echo(f"Deployment {name} has no schedule now; `taskbook run {name}` starts a run.")
    click.echo(
        f"  {replaced['kept']} kept, {replaced['added']} added, {replaced['removed']} removed; "
        f"{replaced['deleted_runs']} run(s) not started yet deleted."
    )


def _report(result: Any, as_json: bool, text: str) -> None:
    if as_json:
        echo_json(result)
    else:
        click.echo(text)
