"""``taskbook store``: where the state lives, how big it is, and pruning old runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._deployment_commands import deployments
from papermill_bridge.cli._format import table

__all__ = ["store"]


@cli.group()
def store() -> None:
    """The state store (SQLite file or PostgreSQL database)."""


@store.command("info")
@json_option
def info(as_json: bool) -> None:
    """Show the store URL, results folder and data directory in use, and how big each is."""
    from kernel_ext import _settings
    from kernel_ext.store import get_store

    active = get_store()
    outputs = _settings.home() / "outputs"
    facts: dict[str, Any] = {
        "store_url": active.display_url if hasattr(active, "display_url") else active.url,
        "results_url": _settings.results_url(),
        "home": str(_settings.home()),
        "database_bytes": active.database_bytes(),
        "results_bytes": _folder_bytes(_settings.results_url()),
        "outputs_bytes": _folder_bytes(str(outputs)),
        "tables": active.table_sizes(),
        "retention_would_remove": active.apply_retention(dry_run=True),
    }
    if as_json:
        echo_json(facts)
        return
    for key in ("store_url", "results_url", "home"):
        click.echo(f"{key + ':':<13}{facts[key]}")
    click.echo(f"{'database:':<13}{_size(facts['database_bytes'])}")
    click.echo(f"{'results:':<13}{_size(facts['results_bytes'])}")
    click.echo(f"{'outputs:':<13}{_size(facts['outputs_bytes'])}")
    click.echo()
    rows = [(t["table"], t["rows"], _size(t["bytes"])) for t in facts["tables"]]
    click.echo(table(["TABLE", "ROWS", "SIZE"], rows))
    due = facts["retention_would_remove"]
    click.echo(
        f"\nRetention policies would remove now: {due['flow_runs']} flow runs, "
        f"{due['task_runs']} task runs, {due['log_lines']} log lines, "
        f"{due['result_files']} result files, {due['output_notebooks']} output notebooks."
    )


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A duration such as 30d or 12h, in seconds; a bad one is one line and exit status 1."""
    if value is None:
        return None
    from kernel_ext.cells._options import CellOptionError, parse_duration

    try:
        return parse_duration(value, f"--{param.name}".replace("_", "-"))
    except CellOptionError as error:
        raise click.ClickException(str(error)) from error


@store.command("prune")
@click.option(
    "--older-than", required=True, callback=_duration, help="Age of the runs to delete: 30d, 12h."
)
@click.option(
    "--keep-failed",
    callback=_duration,
    help="Keep failed and crashed runs this long instead (e.g. 90d).",
)
@click.option("--deployment", help="Only this deployment's runs.")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option(
    "--vacuum", is_flag=True, help="Then VACUUM (SQLite rewrites the file, holding it meanwhile)."
)
@json_option
def prune(
    older_than: float,
    keep_failed: float | None,
    deployment: str | None,
    dry_run: bool,
    vacuum: bool,
    as_json: bool,
) -> None:
    """Delete finished runs that ended before the cut, with their task runs, states, logs,
    results, inputs, artifacts, events, output notebooks and result files no other run
    uses.

    Runs still running, paused or scheduled always stay. The work goes in short batches,
    so flows and workers keep writing meanwhile.
    """
    from kernel_ext.store import get_store

    report = get_store().prune_runs(
        older_than, keep_failed=keep_failed, deployment=deployment, dry_run=dry_run, vacuum=vacuum
    )
    if as_json:
        echo_json(report)
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(
        f"{verb} {report['flow_runs']} flow runs ({report['subflows']} subflows), "
        f"{report['task_runs']} task runs, {report['states']} states, "
        f"{report['log_lines']} log lines, {report['results']} results, "
        f"{report['input_requests']} input requests, {report['artifacts']} artifacts, "
        f"{report['events']} events, {report['result_files']} result files and "
        f"{report['output_notebooks']} output notebooks"
        + ("." if dry_run else f" in {report['seconds']:.1f}s.")
    )


def _policy_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--older-than", callback=_duration, help="Delete runs older: 30d, 12h."),
            click.option(
                "--keep-failed", callback=_duration, help="Keep failed/crashed runs this long."
            ),
            click.option("--none", "clear", is_flag=True, help="Remove the policy."),
            json_option,
        ]
    ):
        fn = option(fn)
    return fn


@store.command("retention")
@_policy_options
def retention(
    older_than: float | None, keep_failed: float | None, clear: bool, as_json: bool
) -> None:
    """Show or set the store-wide retention policy, which the scheduler (`taskbook serve`)
    applies every few minutes to runs outside deployments and to the deployments without a
    policy of their own."""
    _set_policy(None, older_than, None, keep_failed, clear, as_json)


@deployments.command("retention")
@click.argument("name")
@_policy_options
@click.option("--keep", type=click.IntRange(1), help="Keep only the N newest finished runs.")
def deployment_retention(
    name: str,
    older_than: float | None,
    keep_failed: float | None,
    clear: bool,
    as_json: bool,
    keep: int | None,
) -> None:
    """Show or set a deployment's retention policy: its finished runs go once older than
    --older-than or beyond its --keep newest (failed ones stay --keep-failed if longer)."""
    _set_policy(name, older_than, keep, keep_failed, clear, as_json)


def _set_policy(
    deployment: str | None,
    older_than: float | None,
    keep: int | None,
    keep_failed: float | None,
    clear: bool,
    as_json: bool,
) -> None:
    from kernel_ext.store import get_store

    active, given = get_store(), (older_than, keep, keep_failed) != (None, None, None)
    if clear and given:
        raise click.ClickException("--none clears the policy; give it alone.")
    if given and older_than is None and keep is None:
        raise click.ClickException(
            "Give --older-than" + (" or --keep" if deployment else "") + ": how long runs are kept."
        )
    if clear:
        policy = active.set_retention(None, deployment)
    elif given:
        value = {"older_than": older_than, "keep": keep, "keep_failed": keep_failed}
        policy = active.set_retention(value, deployment)  # type: ignore[arg-type]
    else:
        policy = active.read_retention(deployment)
    if as_json:
        echo_json(policy)
        return
    whose = f"Deployment {deployment!r}" if deployment else "The store"
    click.echo(f"{whose}: {_describe(policy) if policy else 'no retention policy'}.")


def _describe(policy: Any) -> str:
    rules = []
    if policy["older_than"] is not None:
        rules.append(f"runs go {_span(policy['older_than'])} after they end")
    if policy["keep"] is not None:
        rules.append(f"beyond the {policy['keep']} newest")
    if policy["keep_failed"] is not None:
        rules.append(f"failed ones stay {_span(policy['keep_failed'])}")
    return ", ".join(rules)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _folder_bytes(location: str) -> int | None:
    """The bytes of the files under a local folder (None for a remote URL)."""
    if "://" in location and not location.startswith("file://"):
        return None
    total = 0
    for folder, _dirs, files in os.walk(Path(location.removeprefix("file://"))):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed meanwhile
                continue
    return total


def _size(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
