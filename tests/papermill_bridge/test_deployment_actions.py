"""Deleting a deployment, replacing its schedules and comparing its versions, through the
public API and the CLI, on a real store (no kernel runs)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from kernel_ext import ConfigurationError, ParameterValidationError
from kernel_ext._errors import DeploymentNotFound, VersionNotFound
from papermill_bridge.cli import cli
from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]

CRON = {"cron": "0 6 * * *", "timezone": "Europe/Paris"}


def waiting_runs(name: str) -> list[dict[str, Any]]:
    runs = store().list_runs_of_deployment(name, 100)
    return [r for r in runs if r["state_type"] == "SCHEDULED"]


def test_replaced_schedules_run_no_slot_of_the_past(home: Path) -> None:
    from papermill_bridge import Scheduler, promote, set_schedules
    from papermill_bridge.schedules import parse_schedule

    minutely = parse_schedule(interval="1m", anchor=datetime.now(UTC) - timedelta(minutes=10))
    promote(write_notebook(home), "greet", schedules=[{"spec": minutely.to_dict()}])
    later = time.time() + 600  # ten slots came due while nothing ran
    assert Scheduler().tick(now=later)["created"] == 1  # the latest; the others skipped
    (waiting,) = waiting_runs("greet")
    (first,) = store().read_deployment("greet")["schedules"]

    replaced = set_schedules(
        "greet",
        [
            {"spec": minutely.to_dict(), "active": False},
            {"interval": "1h", "parameters": {"repeat": "5"}, "catchup": "all"},
        ],
    )
    assert (replaced["kept"], replaced["added"], replaced["removed"]) == (1, 1, 0)
    kept, hourly = replaced["schedules"]
    assert (kept["id"], kept["active"], kept["last_slot"]) == (
        first["id"],
        False,
        first["last_slot"],
    )
    assert (hourly["parameters"], hourly["catchup"], hourly["last_slot"]) == (
        {"repeat": 5},
        "all",
        None,
    )
    # The hourly one has had a slot in the past hour: it counts its slots from now.
    assert Scheduler().tick()["created"] == 0
    assert [r["id"] for r in waiting_runs("greet")] == [waiting["id"]]

    replaced = set_schedules("greet", [{**CRON, "parameters": None, "active": None}])
    assert (replaced["kept"], replaced["added"], replaced["removed"]) == (0, 1, 2)
    assert replaced["deleted_runs"] == 1  # the minutely schedule's run no worker took
    assert waiting_runs("greet") == []
    skipped = store().list_runs_of_deployment("greet", 100)
    assert skipped and {r["state"] for r in skipped} == {"Skipped"}  # what happened stays
    assert Scheduler().tick()["created"] == 0
    assert Scheduler().tick(now=time.time() + 3 * 86400)["created"] == 1  # catch-up: latest


@pytest.mark.parametrize(
    ("schedules", "error", "message"),
    [
        (
            [{"interval": "15m"}, {"cron": "0 25 * * *"}],
            ConfigurationError,
            "schedule 2: cron field 'hour' got 25",
        ),
        (
            [{"cron": "0 6 * * *", "interval": "1h"}],
            ConfigurationError,
            "schedule 1: give exactly one of cron",
        ),
        ([{}], ConfigurationError, "schedule 1: give exactly one of cron"),
        (["15m"], ConfigurationError, "schedule 1: give an object with cron"),
        ([{"interval": "soon"}], ConfigurationError, "schedule 1: "),
        ([{**CRON, "timezone": "Mars/Olympus"}], ConfigurationError, "IANA"),
        (
            [{"interval": "15m", "timezon": "UTC"}],
            ConfigurationError,
            "schedule 1: unknown field(s) timezon",
        ),
        (
            [{"interval": "15m", "active": "yes"}],
            ConfigurationError,
            "schedule 1: active must be true or false",
        ),
        (
            [{"interval": "15m", "catchup": "some"}],
            ConfigurationError,
            "schedule 1: catchup must be 'latest'",
        ),
        ([{"interval": 15}], ConfigurationError, "schedule 1: interval must be a string, got 15"),
        (
            [{"spec": {"kind": "weekly"}}],
            ConfigurationError,
            "schedule 1: schedule dict has kind 'weekly'",
        ),
        (
            [{"spec": {"kind": "cron", "expression": "0 6 * * *"}, "timezone": "UTC"}],
            ConfigurationError,
            "drop timezone",
        ),
        (
            [{"interval": "15m", "parameters": {"nope": 1}}],
            ParameterValidationError,
            "schedule 1: Unknown parameter(s) nope. Valid parameters: greeting",
        ),
        (
            [{"interval": "15m", "parameters": {"repeat": "many"}}],
            ParameterValidationError,
            "schedule 1: Parameter 'repeat' must be int",
        ),
        (
            [{"interval": "15m"}, {"interval": "15m", "timezone": "UTC"}],
            ConfigurationError,
            "schedule 2: the same times and parameters as schedule 1",
        ),
        ("15m", ConfigurationError, "as a list of dicts"),
    ],
)
def test_a_bad_schedule_is_named_and_nothing_changes(
    home: Path, schedules: Any, error: type[Exception], message: str
) -> None:
    from papermill_bridge import promote, set_schedules, start_run

    promote(
        write_notebook(home),
        "greet",
        schedules=[{"spec": {"kind": "cron", "expression": "0 6 * * *", "timezone": "UTC"}}],
    )
    before = store().read_deployment("greet")["schedules"]
    with pytest.raises(error) as raised:
        set_schedules("greet", schedules)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert store().read_deployment("greet")["schedules"] == before
    with pytest.raises(DeploymentNotFound):
        set_schedules("nope", [])
    assert start_run("greet")["state"] == "Scheduled"  # still usable


def test_deleting_a_deployment(home: Path) -> None:
    from papermill_bridge import delete_deployment, promote, start_run

    promote(
        write_notebook(home),
        "greet",
        schedules=[{"spec": {"kind": "cron", "expression": "0 6 * * *", "timezone": "UTC"}}],
    )
    start_run("greet")
    deleted = delete_deployment("greet")
    assert (deleted["name"], deleted["deleted_runs"], len(deleted["schedules"])) == ("greet", 1, 1)
    assert store().list_deployments() == [] and store().list_flow_runs() == []
    with pytest.raises(DeploymentNotFound, match="No deployment named 'greet'"):
        delete_deployment("greet")


def _two_versions(home: Path) -> Path:
    from papermill_bridge import promote

    path = write_notebook(home)
    promote(path, "greet")
    write_notebook(home, extra="print('done')")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[2].source = notebook.cells[2].source.replace("* repeat", "* repeat * 2")
    nbformat.write(notebook, path)
    promote(path, "greet", parameters={"repeat": "3"})
    return path


def test_the_diff_of_two_versions_cell_by_cell(home: Path) -> None:
    from papermill_bridge import version_diff

    _two_versions(home)
    diff = version_diff("greet")
    assert (diff["deployment"], diff["from"], diff["to"]) == ("greet", 1, 2)
    assert diff["changes"] == ["cell 3 edited", "cell 5 added", "parameter repeat: 2 -> 3"]
    assert [c["op"] for c in diff["cells"]] == ["equal", "equal", "replace", "equal", "insert"]
    edited = diff["cells"][2]
    assert edited["old"] and edited["new"] and edited["old"]["index"] == edited["new"]["index"] == 3
    assert edited["old"]["cell_type"] == "code"
    assert "-message = (greeting.upper() + '! ') * repeat\n" in edited["diff"]
    assert "+message = (greeting.upper() + '! ') * repeat * 2\n" in edited["diff"]
    assert edited["diff"].startswith("--- v1 cell 3 (code)\n+++ v2 cell 3 (code)\n@@")
    assert diff["cells"][4] == {
        "op": "insert",
        "old": None,
        "new": {"index": 5, "cell_type": "code", "source": "print('done')"},
        "diff": "",
    }
    assert all(c["diff"] == "" for c in diff["cells"] if c["op"] != "replace")
    (repeat,) = diff["parameters"]
    assert (repeat["name"], repeat["op"]) == ("repeat", "changed")
    assert (repeat["old"] or {})["default"] == 2 and (repeat["new"] or {})["default"] == 3

    back = version_diff("greet", 2, 1)
    assert [c["op"] for c in back["cells"]] == ["equal", "equal", "replace", "equal", "delete"]
    first = version_diff("greet", to_version=1)
    assert (first["from"], first["changes"]) == (None, ["first version"])
    assert {c["op"] for c in first["cells"]} == {"insert"}
    assert [(p["name"], p["op"]) for p in first["parameters"]] == [
        ("greeting", "added"),
        ("repeat", "added"),
    ]
    same = version_diff("greet", 2, 2)
    assert same["changes"] == ["no change in code or parameters"] and same["parameters"] == []
    json.dumps(diff)

    with pytest.raises(VersionNotFound, match="has no version 7"):
        version_diff("greet", 1, 7)
    with pytest.raises(VersionNotFound, match="count from 1"):
        version_diff("greet", 0)
    with pytest.raises(DeploymentNotFound):
        version_diff("nope")


def test_a_cell_whose_type_changed_is_edited(home: Path) -> None:
    from papermill_bridge import promote, version_diff

    path = write_notebook(home)
    promote(path, "greet")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[3] = nbformat.v4.new_markdown_cell(notebook.cells[3].source)
    nbformat.write(notebook, path)
    promote(path, "greet")
    diff = version_diff("greet")
    assert diff["changes"] == ["cell 4 edited"]
    edited = diff["cells"][3]
    assert edited["op"] == "replace" and (edited["new"] or {})["cell_type"] == "markdown"


def test_cli_schedule_and_delete(home: Path) -> None:
    from papermill_bridge import promote, start_run

    promote(write_notebook(home), "greet")
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["deployments", "schedule", "greet", "--cron", "0 7 * * *", "--timezone", "Europe/Paris"],
    )
    assert done.exit_code == 0, done.output
    assert "Deployment greet: every day at 07:00 (Europe/Paris); next run" in done.output
    assert "0 kept, 1 added, 0 removed" in done.output
    shown = json.loads(
        runner.invoke(
            cli, ["deployments", "schedule", "greet", "--interval", "15m", "--json"]
        ).output
    )
    assert (shown["added"], shown["removed"], len(shown["schedules"])) == (1, 1, 1)
    cleared = runner.invoke(cli, ["deployments", "schedule", "greet", "--clear"])
    assert cleared.exit_code == 0 and "has no schedule now" in cleared.output
    for args in (
        [],
        ["--clear", "--cron", "0 6 * * *"],
        ["--cron", "0 6 * * *", "--interval", "1h"],
        ["--clear", "--timezone", "UTC"],
    ):
        refused = runner.invoke(cli, ["deployments", "schedule", "greet", *args])
        assert refused.exit_code == 2, (args, refused.output)
        assert "Give --cron" in refused.output or "--timezone applies" in refused.output
    bad = runner.invoke(cli, ["deployments", "schedule", "greet", "--cron", "0 25 * * *"])
    assert bad.exit_code == 1 and "schedule 1: cron field 'hour' got 25" in bad.output

    start_run("greet")
    refused = runner.invoke(cli, ["deployments", "delete", "greet"], input="y\n")
    assert refused.exit_code == 2 and "pass --yes" in refused.output  # nobody at a terminal
    missing = runner.invoke(cli, ["deployments", "delete", "nope", "--yes"])
    assert missing.exit_code == 1 and "No deployment named 'nope'" in missing.output
    deleted = runner.invoke(cli, ["deployments", "delete", "greet", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert (
        "Deleted deployment greet with 1 version(s), 0 schedule(s) and 1 run(s) not started"
        in deleted.output
    )
    assert store().list_deployments() == []
    promote(write_notebook(home), "again")
    as_json = json.loads(
        runner.invoke(cli, ["deployments", "delete", "again", "--yes", "--json"]).output
    )
    assert (as_json["name"], as_json["deleted_runs"]) == ("again", 0)
