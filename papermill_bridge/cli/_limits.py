"""``taskbook limits``: concurrency and rate limits shared by every process on the store.

A limit's name is also a task tag: ``taskbook limits set openai 4`` lets at most four
task runs tagged ``openai`` run at once, and bounds ``concurrency("openai")`` blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table

if TYPE_CHECKING:
    from kernel_ext.store.records import LimitRecord

__all__ = ["limits"]


@cli.group()
def limits() -> None:
    """Concurrency and rate limits (also the task tags they bound)."""


@limits.command("set")
@click.argument("name")
@click.argument("slots", type=click.IntRange(min=0), required=False)
@click.option(
    "--per-second",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="A rate: at most this many starts per second.",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=None,
    help="Starts let through at once after a quiet spell (default 1).",
)
@click.option("--no-slots", is_flag=True, help="Drop the limit's slots (keep its rate).")
@click.option("--no-rate", is_flag=True, help="Drop the limit's rate (keep its slots).")
@json_option
def set_limit(
    name: str,
    slots: int | None,
    per_second: float | None,
    burst: int | None,
    no_slots: bool,
    no_rate: bool,
    as_json: bool,
) -> None:
    """Create or change limit NAME: at most SLOTS holders at once, and/or a rate.

    What is not given keeps its current value.

    \b
    Examples:
      taskbook limits set openai 4                 # 4 task runs tagged openai at once
      taskbook limits set openai --per-second 5    # ... and at most 5 starts a second
      taskbook limits set search --per-second 2    # a rate only
      taskbook limits set openai --no-rate         # back to 4 at once, no rate
    """
    from kernel_ext._slots import forget_limit_names
    from kernel_ext.store import get_store

    _refuse_deployment_limit(name)
    store = get_store()
    current = next((r for r in store.list_limits() if r["name"] == name), None)
    if current is not None:
        slots = None if no_slots else (current["slots"] if slots is None else slots)
        per_second = (
            None if no_rate else (current["per_second"] if per_second is None else per_second)
        )
    record = store.set_limit(name, slots, per_second, burst)
    forget_limit_names()
    if as_json:
        echo_json(record)
        return
    click.echo(f"Limit {name!r}: {_describe(record)}.")


@limits.command("ls")
@json_option
def list_limits(as_json: bool) -> None:
    """List the limits with the slots in use now."""
    from kernel_ext.store import get_store

    records = get_store().list_limits()
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("No limits yet. Create one with: taskbook limits set NAME SLOTS")
        return
    click.echo(table(["NAME", "IN USE", "SLOTS", "RATE", "HOLDERS"], [_row(r) for r in records]))


@limits.command("show")
@click.argument("name")
@json_option
def show_limit(name: str, as_json: bool) -> None:
    """Show limit NAME and who holds its slots."""
    from kernel_ext.store import get_store

    record = get_store().read_limit(name)
    if as_json:
        echo_json(record)
        return
    click.echo(f"Limit {name!r}: {_describe(record)}; {record['used']} slot(s) in use.")
    if record["leases"]:
        rows = [
            [
                lease["holder"],
                lease["slots"],
                local_time(lease["acquired_at"]),
                local_time(lease["expires_at"]),
            ]
            for lease in record["leases"]
        ]
        click.echo(table(["HOLDER", "SLOTS", "SINCE", "LEASE ENDS"], rows))


@limits.command("reset")
@click.argument("name")
@json_option
def reset_limit(name: str, as_json: bool) -> None:
    """Give back every slot of NAME (e.g. after a stuck holder); holders keep running."""
    from kernel_ext.store import get_store

    _refuse_deployment_limit(name)
    record = get_store().reset_limit(name)
    if as_json:
        echo_json(record)
        return
    click.echo(f"Released every slot of {name!r}.")


@limits.command("delete")
@click.argument("name")
@json_option
def delete_limit(name: str, as_json: bool) -> None:
    """Delete limit NAME: its tag and blocks are no longer bounded."""
    from kernel_ext._errors import ConfigurationError
    from kernel_ext._slots import forget_limit_names
    from kernel_ext.store import get_store

    _refuse_deployment_limit(name)
    if not get_store().delete_limit(name):
        raise ConfigurationError(
            f"There is no limit named {name!r}; list them with `taskbook limits ls`."
        )
    forget_limit_names()
    if as_json:
        echo_json({"name": name, "deleted": True})
        return
    click.echo(f"Deleted limit {name!r}.")


def _refuse_deployment_limit(name: str) -> None:
    from kernel_ext._errors import ConfigurationError
    from kernel_ext.store.records import DEPLOYMENT_LIMIT_PREFIX

    if name.startswith(DEPLOYMENT_LIMIT_PREFIX):
        deployment = name[len(DEPLOYMENT_LIMIT_PREFIX) :]
        raise ConfigurationError(
            f"{name!r} follows deployment {deployment!r}; change it with `taskbook deploy "
            f"NOTEBOOK --name {deployment} --concurrency N` (without --concurrency: no limit)."
        )


def _describe(record: LimitRecord) -> str:
    parts = []
    if record["slots"] is not None:
        parts.append(f"{record['slots']} at once")
    if record["per_second"] is not None:
        parts.append(f"{_rate(record)}")
    return ", ".join(parts)


def _rate(record: LimitRecord) -> str:
    if record["per_second"] is None:
        return "-"
    burst = f" (burst {record['burst']})" if (record["burst"] or 1) > 1 else ""
    return f"{record['per_second']:g}/s{burst}"


def _row(record: LimitRecord) -> list[Any]:
    slots = "-" if record["slots"] is None else record["slots"]
    used = "-" if record["slots"] is None else record["used"]
    return [record["name"], used, slots, _rate(record), record["holders"]]
