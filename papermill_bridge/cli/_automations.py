"""``taskbook automations``: triggers on events and the actions they start.

``create --from-file`` reads YAML or JSON as ``prefect automation create --from-file``
does, and writes nothing unless every automation in the file is valid and its name free.
The scheduler (``taskbook serve``) evaluates the enabled ones; ``show`` prints what each
firing did.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table

if TYPE_CHECKING:
    from kernel_ext.automations import Automation
    from kernel_ext.store.records import AutomationRecord, FiringRecord

__all__ = ["automations"]


@cli.group()
def automations() -> None:
    """Automations: when events happen (or fail to), notify, run or pause a deployment,
    cancel or suspend a run."""


@automations.command("create")
@click.option(
    "--from-file",
    "path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A YAML or JSON file: one automation, a list, or `automations: [...]`.",
)
@click.option("--dry-run", is_flag=True, help="Check the file and say what it would create.")
@json_option
def create(path: Path, dry_run: bool, as_json: bool) -> None:
    """Create the automations in a file, all of them or none.

    \b
    Example automations.yaml:
      name: failed-runs-to-slack
      trigger:
        expect: [prefect.flow-run.Failed]
        match: {prefect.resource.id: prefect.flow-run.*}
      actions:
        - type: send-notification
          secret: slack-alerts          # a Secret holding the Apprise URL
          subject: "{{ flow_run.name }} failed"
    """
    from kernel_ext.automations import load_automations

    loaded = load_automations(path)
    _refuse_taken_names(loaded, path)
    if dry_run:
        records = [a.model_dump(mode="json") for a in loaded]
        if as_json:
            echo_json(records)
        else:
            names = ", ".join(a.name for a in loaded)
            click.echo(f"{path} is valid: it would create {len(loaded)} automation(s): {names}.")
        return
    created = _create_all(loaded)
    if as_json:
        echo_json(created)
        return
    for record in created:
        click.echo(f"Created automation {record['name']} ({record['id'][:8]}).")


@automations.command("ls")
@json_option
def list_automations(as_json: bool) -> None:
    """List the automations, with when each last fired."""
    from kernel_ext.store import get_store

    store = get_store()
    records = store.list_automations()
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo(
            "No automations yet. Create some with: taskbook automations create --from-file F"
        )
        return
    rows = [_row(record, store.list_firings(record["id"], 1)) for record in records]
    click.echo(table(["NAME", "ENABLED", "TRIGGER", "ACTIONS", "LAST FIRED"], rows))


@automations.command("show")
@click.argument("name_or_id")
@click.option("--firings", "limit", default=10, show_default=True, type=click.IntRange(0))
@json_option
def show(name_or_id: str, limit: int, as_json: bool) -> None:
    """Show an automation: its trigger, its actions and its latest firings."""
    from kernel_ext.automations import Automation
    from kernel_ext.store import get_store

    store = get_store()
    record = store.read_automation(name_or_id)
    firings = store.list_firings(record["id"], limit) if limit else []
    if as_json:
        echo_json({**record, "firings": firings})
        return
    automation = Automation.from_record(record)
    click.echo(f"{automation.name} ({record['id']}){'' if automation.enabled else ', paused'}")
    if automation.description:
        click.echo(automation.description)
    click.echo("\nTrigger:\n" + automation.trigger.describe_for_cli(indent=1))
    click.echo("\nActions:")
    for number, action in enumerate([*automation.actions, *automation.actions_on_trigger], 1):
        click.echo(f"  {number}. {action.describe_for_cli()}")
    click.echo("")
    if not firings:
        click.echo("It has not fired yet.")
        return
    rows = [_firing_row(firing) for firing in firings]
    click.echo(table(["FIRED", "STATE", "ATTEMPTS", "EVENT", "OUTCOME"], rows))


@automations.command("pause")
@click.argument("name_or_id")
@json_option
def pause(name_or_id: str, as_json: bool) -> None:
    """Pause an automation: the scheduler stops evaluating it."""
    _set_enabled(name_or_id, False, as_json)


@automations.command("resume")
@click.argument("name_or_id")
@json_option
def resume(name_or_id: str, as_json: bool) -> None:
    """Resume a paused automation (it reacts to the events from now on)."""
    _set_enabled(name_or_id, True, as_json)


@automations.command("delete")
@click.argument("name_or_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(name_or_id: str, yes: bool, as_json: bool) -> None:
    """Delete an automation with its open windows and its firings' history."""
    from kernel_ext.store import get_store

    store = get_store()
    record = store.read_automation(name_or_id)  # AutomationNotFound before asking
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "Nobody is here to confirm: pass --yes to delete the automation."
            )
        click.confirm(f"Delete automation {record['name']} and its history?", abort=True, err=True)
    store.delete_automation(record["id"])
    if as_json:
        echo_json(record)
    else:
        click.echo(f"Deleted automation {record['name']}.")


def _refuse_taken_names(loaded: list[Automation], path: Path) -> None:
    from kernel_ext._errors import AutomationExists
    from kernel_ext.store import get_store

    store = get_store()
    taken = [a.name for a in loaded if store.find_automation(a.name) is not None]
    if taken:
        names = ", ".join(repr(name) for name in taken)
        raise AutomationExists(
            f"{path}: automations named {names} exist already, so nothing was created; "
            "rename them, or `taskbook automations delete NAME` first.",
            name=taken[0],
        )


def _create_all(loaded: list[Automation]) -> list[AutomationRecord]:
    """Create them all in one transaction: if one fails (another process took its name
    meanwhile), none is stored, and no scheduler saw any of them."""
    from kernel_ext.store import get_store

    return get_store().create_automations([automation.to_record() for automation in loaded])


def _set_enabled(name_or_id: str, enabled: bool, as_json: bool) -> None:
    from kernel_ext.store import get_store

    record = get_store().set_automation_enabled(name_or_id, enabled)
    if as_json:
        echo_json(record)
    else:
        click.echo(f"{'Resumed' if enabled else 'Paused'} automation {record['name']}.")


def _row(record: AutomationRecord, latest: list[FiringRecord]) -> list[Any]:
    trigger = record["trigger"]
    actions = [*record["actions"], *record["actions_on_trigger"]]
    return [
        record["name"],
        "yes" if record["enabled"] else "no",
        _trigger_summary(trigger),
        ", ".join(str(action.get("type")) for action in actions),
        local_time(latest[0]["fired"]) if latest else "-",
    ]


def _trigger_summary(trigger: dict[str, Any]) -> str:
    kind = trigger.get("type", "event")
    if kind != "event":
        return f"{kind} of {len(trigger.get('triggers') or [])}"
    expect = ", ".join(trigger.get("expect") or ()) or "any event"
    return f"{trigger.get('posture', 'Reactive')}: {expect}"


def _firing_row(firing: FiringRecord) -> list[Any]:
    event = firing["triggering_event"] or {}
    outcome = firing["error"] or "; ".join(
        str(result.get("result")) for result in firing["results"] or () if isinstance(result, dict)
    )
    return [
        local_time(firing["fired"]),
        firing["state"],
        firing["attempts"],
        event.get("event", "-"),
        _shortened(outcome or "-"),
    ]


def _shortened(text: str, limit: int = 80) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
