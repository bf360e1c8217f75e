"""Deployment, schedule and pause-answer events, recorded in the transactions of their
changes; ``taskbook events`` and ``GET events`` as a user calls them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kernel_ext.events import emit_event
from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]


def event_names(pattern: str) -> list[str]:
    return [row.event.event for row in reversed(store().list_events(names=[pattern]))]


def test_deployment_changes_are_events(home: Path) -> None:
    from papermill_bridge import promote, set_schedules

    path = write_notebook(home)
    deployment = promote(path, "greet")
    promote(path, "greet")  # unchanged: no version, no event
    promote(write_notebook(home, extra="print('more')"), "greet")
    store().set_deployment_paused("greet", True)
    store().set_deployment_paused("greet", True)  # already paused: nothing happened
    store().set_deployment_paused("greet", False)
    set_schedules("greet", [{"interval": "1h"}])
    store().delete_deployment("greet")
    assert event_names("prefect.deployment.*") == [
        "prefect.deployment.created",
        "prefect.deployment.updated",
        "prefect.deployment.paused",
        "prefect.deployment.resumed",
        "prefect.deployment.schedules.changed",
        "prefect.deployment.deleted",
    ]
    rows = store().list_events(names=["prefect.deployment.*"])
    assert {row.event.resource.id for row in rows} == {f"prefect.deployment.{deployment['id']}"}
    assert {row.event.resource.name for row in rows} == {"greet"}
    (changed,) = [r for r in rows if r.event.event.endswith("schedules.changed")]
    assert changed.event.payload == {"added": 1, "removed": 0, "kept": 0}


def test_a_refused_change_records_no_event(home: Path) -> None:
    import pytest

    from kernel_ext import ConfigurationError
    from papermill_bridge import promote, set_schedules

    promote(write_notebook(home), "greet")
    with pytest.raises(ConfigurationError):
        set_schedules("greet", [{"interval": "1h"}, {"cron": "not a cron"}])
    assert event_names("prefect.deployment.schedules.*") == []


def test_an_answer_to_a_paused_run_is_an_event(home: Path) -> None:
    from kernel_ext import approvals
    from kernel_ext._run_records import FlowRunId

    request = store().create_input_request(
        id="req-1",
        flow_run_id=FlowRunId("0f0e0d0c-0000-4000-8000-000000000001"),
        key="approve",
        schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
        description=None,
    )
    approvals.answer(request["id"], {"ok": True}, "ada")
    (row,) = store().list_events(names=["prefect.flow-run.input.*"])
    assert row.event.event == "prefect.flow-run.input.answered"
    assert row.event.resource.id == "prefect.flow-run.0f0e0d0c-0000-4000-8000-000000000001"
    assert row.event.payload == {"key": "approve", "answered_by": "ada", "answer": {"ok": True}}


def taskbook(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    env.pop("TASKBOOK_STORE_URL", None)
    script = Path(sys.executable).with_name("taskbook")
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True)


def test_the_cli_lists_emits_and_follows(home: Path) -> None:
    emitted = taskbook(
        home,
        "events",
        "emit",
        "file.arrived",
        "--resource-id",
        "file.a",
        "--payload",
        '{"path": "/landing/a.csv"}',
        "--json",
    )
    assert emitted.returncode == 0, emitted.stderr
    listed = taskbook(home, "events", "ls", "--event", "file.*", "--json")
    (event,) = json.loads(listed.stdout)
    assert event["id"] == json.loads(emitted.stdout)["id"]
    assert event["payload"] == {"path": "/landing/a.csv"}
    table = taskbook(home, "events", "ls").stdout
    assert "file.arrived" in table and "file.a" in table
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    script = Path(sys.executable).with_name("taskbook")
    with subprocess.Popen(
        [str(script), "events", "ls", "-f", "--json", "--event", "later.*"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as follower:
        try:
            time.sleep(2.5)  # the follower has read where the streams end
            emit_event("later.one", {"prefect.resource.id": "x"})
            store().flush()
            assert follower.stdout is not None
            assert json.loads(follower.stdout.readline())["event"] == "later.one"
        finally:
            follower.terminate()


def test_cli_errors_are_one_line(home: Path) -> None:
    for args, message in [
        (("events", "ls", "--since", "2x"), "not a duration"),
        (("events", "emit", "x", "--resource-id", "a", "--payload", "[1]"), "JSON object"),
        (("events", "emit", "x", "--resource-id", "a", "--payload", "{"), "not JSON"),
        (("events", "emit", "x", "--resource-id", "a", "--label", "oops"), "KEY=VALUE"),
    ]:
        done = taskbook(home, *args)
        assert done.returncode != 0 and message in done.stderr
        assert "Traceback" not in done.stderr
    for command in (("events",), ("events", "ls"), ("events", "emit")):
        assert taskbook(home, *command, "--help").returncode == 0
