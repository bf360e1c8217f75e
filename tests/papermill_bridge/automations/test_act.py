"""Acting on firings: notifications posted by Apprise to a real HTTP receiver on
127.0.0.1, deployment runs started, deployments paused, runs cancelled and suspended, on
a real SQLite store."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import _settings
from kernel_ext.automations import (
    Action,
    Automation,
    CancelFlowRun,
    DoNothing,
    EventTrigger,
    PauseAutomation,
    PauseDeployment,
    ResumeDeployment,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
    SuspendFlowRun,
)
from kernel_ext.events import Event
from papermill_bridge.automations import ActionFailed, ActionsFailed, Firing, act
from papermill_bridge.automations._templates import render_parameters, render_text
from tests.papermill_bridge.test_deployments import home, store, write_notebook
from tests.webhook import Receiver, webhook_receiver

__all__ = ["home"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def automation(*actions: Action, name: str = "watch") -> Automation:
    return Automation(
        id=uuid.uuid4(), name=name, trigger=EventTrigger(expect={"*"}), actions=list(actions)
    )


def firing_of(event: Event | None, automation_id: uuid.UUID | None = None) -> Firing:
    moment = datetime.now(UTC)
    return Firing(
        automation_id=str(automation_id or uuid.uuid4()),
        trigger_id=str(uuid.uuid4()),
        firing_key=f"key-{uuid.uuid4()}",
        fired=moment,
        occurred=moment,
        triggering_event=event,
    )


def custom_event(**payload: Any) -> Event:
    return Event(
        event="warehouse.file.arrived",
        resource={"prefect.resource.id": "warehouse.file.sales.csv"},
        payload=payload,
    )


def run_event(run: dict[str, Any], name: str = "Failed") -> Event:
    """A state change of a deployment run, as the store reads it back."""
    return Event(
        event=f"prefect.flow-run.{name}",
        resource={
            "prefect.resource.id": f"prefect.flow-run.{run['id']}",
            "prefect.resource.name": run["name"],
        },
        related=[
            {
                "prefect.resource.id": f"prefect.deployment.{run['deployment_id']}",
                "prefect.resource.role": "deployment",
                "prefect.resource.name": run["deployment_name"],
            }
        ],
    )


def started(home: Path, deployment: str = "greet") -> dict[str, Any]:
    from papermill_bridge import promote, start_run

    promote(write_notebook(home), deployment)
    return dict(start_run(deployment))


# -- notifications ------------------------------------------------------------------------


def test_a_notification_is_posted_with_its_templates_rendered(
    home: Path, receiver: Receiver
) -> None:
    run = started(home)
    notify = SendNotification(
        url=receiver.url("{{ flow.name }}"),
        subject="{{ flow_run.name }} is {{ flow_run.state.name }}",
        body="{{ deployment.name }} / {{ event.resource.name }} / {{ run_url }}",
    )
    with _settings.override(TASKBOOK_CONSOLE_URL="https://lab.example.com"):
        (result,) = act(automation(notify), firing_of(run_event(run)))
    assert result == {
        "index": 0,
        "type": "send-notification",
        "ok": True,
        "result": "Notified json://....",
        "error": None,
    }
    ((path, body),) = receiver.posts
    assert path == "/greet"
    assert body["title"] == f"{run['name']} is Scheduled"
    assert body["message"] == (
        f"greet / {run['name']} / https://lab.example.com/lab?taskbook-run={run['id']}"
    )


def test_the_default_message_is_prefects_and_renders_without_a_run(
    home: Path, receiver: Receiver
) -> None:
    act(automation(SendNotification(url=receiver.url())), firing_of(custom_event()))
    (body,) = receiver.wait_for(1)
    assert body["title"] == "Taskbook automated notification"
    assert body["message"].startswith("Flow run / observed in state ``")  # nothing to say
    act(automation(SendNotification(url=receiver.url())), firing_of(None))
    assert len(receiver.wait_for(2)) == 2


def test_the_url_may_come_from_a_secret(home: Path, receiver: Receiver) -> None:
    from kernel_ext.secrets import Secret

    Secret(value=receiver.url("secret")).save("oncall")
    act(automation(SendNotification(secret="oncall", body="hi")), firing_of(None))
    assert receiver.posts[0][0] == "/secret"


def test_a_failed_notification_is_retried_alone(home: Path, receiver: Receiver) -> None:
    good = SendNotification(url=receiver.url("ok"), body="once")
    unreachable = SendNotification(url="json://127.0.0.1:1/nobody", body="never")
    the_automation = automation(good, unreachable, DoNothing())
    firing = firing_of(None)
    with pytest.raises(ActionsFailed) as caught:
        act(the_automation, firing)
    first = caught.value.results
    assert [r["ok"] for r in first] == [True, False, True]
    assert "The notification to json://... was not delivered" in str(first[1]["error"])
    assert "1 of 3 actions failed: send-notification (action 2)" in str(caught.value)
    with pytest.raises(ActionsFailed):
        act(the_automation, firing, previous=first)
    assert [path for path, _ in receiver.posts] == ["/ok"]  # not sent again


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nope://x", "nope://... is not a notification URL Apprise understands"),
        ("{{ event.payload.nothing }}", "renders empty for this firing"),
        ("{{ undefined_name | int(none) }}", "cannot be rendered: 'undefined_name' is undefined"),
    ],
)
def test_urls_apprise_does_not_know(home: Path, url: str, message: str) -> None:
    with pytest.raises(ActionsFailed, match=re.escape(message)):
        act(automation(SendNotification(url=url, body="x")), firing_of(custom_event()))


def test_templates_run_in_a_sandbox() -> None:
    """What the sandbox refuses renders as nothing: no object leaks out of an event."""
    text = "[{{ event.__class__.__mro__ }}]{{ event.event }}"
    assert render_text(text, {"event": custom_event()}) == "[]warehouse.file.arrived"
    with pytest.raises(ActionFailed, match="cannot be rendered"):
        render_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


# -- deployments --------------------------------------------------------------------------


def test_run_deployment_with_templated_parameters_starts_one_run(home: Path) -> None:
    from papermill_bridge import promote

    promote(write_notebook(home), "ingest")
    action = RunDeployment(
        deployment="ingest",
        parameters={"greeting": "file {{ event.payload.path }}", "repeat": "{{ event.payload.n }}"},
    )
    the_automation = automation(action, name="file-arrived")
    firing = firing_of(custom_event(path="/landing/a.csv", n=3))
    (result,) = act(the_automation, firing)
    assert str(result["result"]).startswith("Started run ")
    (run,) = store().list_runs_of_deployment("ingest")
    assert run["parameters"] == {"greeting": "file /landing/a.csv", "repeat": 3}
    assert run["state_message"] == "Started by automation 'file-arrived'"
    (again,) = act(the_automation, firing)  # the same firing, again: no second run
    assert "was started already" in str(again["result"])
    assert len(store().list_runs_of_deployment("ingest")) == 1


def test_run_deployment_can_wait_and_ignores_job_variables(home: Path) -> None:
    from papermill_bridge import promote

    promote(write_notebook(home), "later")
    action = RunDeployment.model_validate(
        {"deployment": "later", "schedule_after": 3600, "job_variables": {"image": "x"}}
    )
    (result,) = act(automation(action), firing_of(None))
    assert "job_variables were ignored" in str(result["result"])
    (run,) = store().list_runs_of_deployment("later")
    due = datetime.fromisoformat(str(run["scheduled_time"]))
    assert (due - datetime.now(UTC)).total_seconds() > 3500


def test_an_inferred_deployment_is_the_events(home: Path) -> None:
    run = started(home, "nightly")
    act(automation(PauseDeployment(source="inferred")), firing_of(run_event(run)))
    assert store().read_deployment("nightly")["paused"] is True
    (result,) = act(automation(ResumeDeployment(deployment="nightly")), firing_of(None))
    assert result["result"] == "Resumed deployment nightly."
    assert store().read_deployment("nightly")["paused"] is False
    with pytest.raises(ActionsFailed, match="No deployment could be inferred from the event"):
        act(automation(PauseDeployment(source="inferred")), firing_of(custom_event()))


def test_an_unknown_selected_deployment_says_so(home: Path) -> None:
    with pytest.raises(ActionsFailed, match="nowhere"):
        act(automation(RunDeployment(deployment="nowhere")), firing_of(None))


# -- runs ---------------------------------------------------------------------------------


def test_cancel_the_run_of_the_event(home: Path) -> None:
    run = started(home)
    (result,) = act(automation(CancelFlowRun()), firing_of(run_event(run, "Late")))
    assert result["result"] == f"Run {run['name']} ({run['id'][:8]}) is Cancelled."
    assert store().read_flow_run(run["id"])["state"] == "Cancelled"
    with pytest.raises(ActionsFailed, match="No flow run could be inferred"):
        act(automation(CancelFlowRun()), firing_of(custom_event()))


def test_suspend_a_run_that_has_not_started_then_resume_it(home: Path) -> None:
    run = started(home)
    firing = firing_of(run_event(run, "Scheduled"))
    (result,) = act(automation(SuspendFlowRun()), firing)
    assert "`taskbook runs resume` resumes it" in str(result["result"])
    assert store().read_flow_run(run["id"])["state"] == "Suspended"
    act(automation(ResumeFlowRun()), firing)
    resumed = store().read_flow_run(run["id"])
    assert (resumed["state"], resumed["state_type"]) == ("Resuming", "SCHEDULED")


def test_a_running_run_cannot_be_suspended_from_outside(home: Path) -> None:
    from kernel_ext._states import Running

    run = started(home)
    store().set_run_state(run["id"], Running())
    with pytest.raises(ActionsFailed, match="is Running: only a run that has not started"):
        act(automation(SuspendFlowRun()), firing_of(run_event(run, "Running")))


def test_an_automation_can_pause_itself(home: Path) -> None:
    created = Automation(name="noisy", trigger=EventTrigger(), actions=[DoNothing()]).create()
    act(
        automation(PauseAutomation(source="inferred")).model_copy(update={"id": created.id}),
        firing_of(None),
    )
    assert Automation.read(name="noisy").enabled is False


def test_act_takes_the_stores_records(home: Path, receiver: Receiver) -> None:
    record = automation(SendNotification(url=receiver.url(), body="{{ event.event }}"))
    firing = firing_of(custom_event())
    stored = {"firing": firing.to_record(), "results": None}
    (result,) = act(record.to_record(), stored)
    assert result["ok"] and receiver.wait_for(1)[0]["message"] == "warehouse.file.arrived"
    act(record.to_record(), {**stored, "results": [result]})  # done already: kept
    assert len(receiver.bodies()) == 1


# -- templates ----------------------------------------------------------------------------


def test_parameters_keep_the_type_of_a_single_expression() -> None:
    context = {"event": custom_event(n=3, paths=["a", "b"], flag=True)}
    rendered = render_parameters(
        {
            "n": "{{ event.payload.n }}",
            "paths": "{{ event.payload.paths }}",
            "flag": " {{ event.payload.flag }} ",
            "text": "n={{ event.payload.n }}",
            "missing": "{{ event.payload.nothing }}",
            "nested": {"inner": ["{{ event.payload.n + 1 }}", "plain"]},
            "kind": {"__prefect_kind": "jinja", "template": "{{ event.payload.n * 2 }}"},
            "json": {"__prefect_kind": "json", "value": '{"a": 1}'},
            "when": "{{ event.occurred }}",
        },
        context,
    )
    assert rendered == {
        "n": 3,
        "paths": ["a", "b"],
        "flag": True,
        "text": "n=3",
        "missing": None,
        "nested": {"inner": [4, "plain"]},
        "kind": "6",
        "json": {"a": 1},
        "when": context["event"].occurred.isoformat(),
    }


def test_prefects_ui_url_filter() -> None:
    with _settings.override(TASKBOOK_CONSOLE_URL="https://lab.example.com/"):
        assert render_text("{{ flow_run | ui_url }}", {"flow_run": {"id": "abc"}}) == (
            "https://lab.example.com/lab?taskbook-run=abc"
        )
        assert render_text("{{ flow_run | ui_url }}", {"flow_run": None}) == ""
