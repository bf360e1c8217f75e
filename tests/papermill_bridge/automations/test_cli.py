"""``taskbook automations`` with click's runner on a real SQLite store: create from a
file (all or nothing), list, show with firings, pause, resume, delete."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import papermill_bridge.cli._automations  # noqa: F401  (registers the group)
from papermill_bridge.cli import cli
from tests.papermill_bridge.test_deployments import home, store

__all__ = ["home"]

FILE = """\
automations:
  - name: failed-runs
    description: tell the team
    trigger:
      expect: [prefect.flow-run.Failed]
      match: {prefect.resource.id: prefect.flow-run.*}
    actions:
      - {type: send-notification, url: "json://127.0.0.1:9/", subject: "{{ flow_run.name }}"}
  - name: stuck-runs
    trigger:
      posture: Proactive
      after: [prefect.flow-run.Running]
      expect: [prefect.flow-run.Completed]
      for_each: [prefect.resource.id]
      within: 600
    actions: [{type: cancel-flow-run}]
"""
COMMANDS = [
    ["automations"],
    ["automations", "create"],
    ["automations", "ls"],
    ["automations", "show"],
    ["automations", "pause"],
    ["automations", "resume"],
    ["automations", "delete"],
]


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def ok(*args: str) -> str:
    done = run(*args)
    assert done.exit_code == 0, done.output
    return done.output


def write(folder: Path, text: str = FILE, name: str = "automations.yaml") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    assert ok(*command, "--help").startswith("Usage: ")


def test_create_from_a_file_then_list_show_pause_resume_delete(home: Path) -> None:
    path = write(home)
    assert ok("automations", "create", "--from-file", path, "--dry-run") == (
        f"{path} is valid: it would create 2 automation(s): failed-runs, stuck-runs.\n"
    )
    assert store().list_automations() == []
    created = ok("automations", "create", "--from-file", path).splitlines()
    assert [line.split(" (")[0] for line in created] == [
        "Created automation failed-runs",
        "Created automation stuck-runs",
    ]
    listed = ok("automations", "ls").splitlines()
    assert listed[0].split() == ["NAME", "ENABLED", "TRIGGER", "ACTIONS", "LAST", "FIRED"]
    assert listed[1].split()[:4] == ["failed-runs", "yes", "Reactive:", "prefect.flow-run.Failed"]
    assert "cancel-flow-run" in listed[2]

    shown = ok("automations", "show", "stuck-runs")
    assert "Proactive: expecting 1 prefect.flow-run.Completed within 0:10:00" in shown
    assert "1. Cancel flow run" in shown and "It has not fired yet." in shown

    assert ok("automations", "pause", "stuck-runs") == "Paused automation stuck-runs.\n"
    assert store().read_automation("stuck-runs")["enabled"] is False
    paused = json.loads(ok("automations", "resume", "stuck-runs", "--json"))
    assert paused["enabled"] is True

    refused = run("automations", "delete", "stuck-runs")
    assert refused.exit_code != 0 and "pass --yes" in refused.output
    assert ok("automations", "delete", "stuck-runs", "--yes") == "Deleted automation stuck-runs.\n"
    records = json.loads(ok("automations", "ls", "--json"))
    assert [r["name"] for r in records] == ["failed-runs"]


def test_a_file_with_a_problem_creates_nothing(home: Path) -> None:
    bad = FILE.replace("within: 600", "within: 5").replace("cancel-flow-run", "call-webhook")
    done = run("automations", "create", "--from-file", write(home, bad))
    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert lines[0].startswith("Error: ") and "automation 2 ('stuck-runs'): trigger:" in lines[0]
    assert "'call-webhook' is not a type Taskbook knows" in lines[1]
    assert store().list_automations() == []


def test_a_name_in_use_creates_nothing(home: Path) -> None:
    path = write(home)
    ok(
        "automations",
        "create",
        "--from-file",
        write(home, FILE.split("  - name: stuck")[0], "one.yaml"),
    )
    done = run("automations", "create", "--from-file", path)
    assert done.exit_code == 1
    assert "automations named 'failed-runs' exist already, so nothing was created" in done.output
    assert [r["name"] for r in store().list_automations()] == ["failed-runs"]


def test_json_files_and_missing_ones(home: Path) -> None:
    record = {"name": "j", "trigger": {"expect": ["x"]}, "actions": [{"type": "do-nothing"}]}
    created = json.loads(
        ok(
            "automations",
            "create",
            "--from-file",
            write(home, json.dumps(record), "a.json"),
            "--json",
        )
    )
    assert created[0]["name"] == "j" and created[0]["trigger"]["expect"] == ["x"]
    missing = run("automations", "create", "--from-file", str(home / "nope.yaml"))
    assert missing.exit_code == 1 and "nope.yaml: cannot be read" in missing.output
    unknown = run("automations", "show", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.output


def test_show_lists_the_firings_and_what_they_did(home: Path) -> None:
    ok("automations", "create", "--from-file", write(home))
    automation = store().read_automation("failed-runs")
    fired = datetime.now(UTC)
    _insert_firing(automation["id"], fired)  # as the evaluator records one
    shown = ok("automations", "show", "failed-runs")
    assert "prefect.flow-run.Failed" in shown.split("FIRED")[1]
    details = json.loads(ok("automations", "show", "failed-runs", "--json"))
    assert details["firings"][0]["firing_key"] == "k1"


def _insert_firing(automation_id: str, fired: datetime) -> None:
    from kernel_ext.store._automation_rows import insert_firings

    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event": "prefect.flow-run.Failed",
        "occurred": fired.isoformat(),
        "resource": {"prefect.resource.id": "prefect.flow-run.x"},
        "related": [],
        "payload": {},
        "follows": None,
    }
    with store()._engine.begin() as connection:
        insert_firings(
            connection,
            [
                {
                    "automation_id": automation_id,
                    "firing_key": "k1",
                    "fired": fired,
                    "triggering_event": event,
                    "firing": None,
                }
            ],
        )
