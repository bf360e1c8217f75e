"""Actions: what an automation does when it fires (Prefect's ``prefect.events.actions``).

    SendNotification(url="slack://T000/B000/XXXX", body="{{ flow_run.name }} failed")
    SendNotification(secret="oncall-pagerduty")        # a Secret holding the Apprise URL
    RunDeployment(deployment="ingest", parameters={"path": "{{ event.payload.path }}"})
    PauseDeployment(source="inferred")                 # the deployment of the event's run
    CancelFlowRun()                                    # the run the event is about

Prefect's ``type`` names and fields, with two differences: a notification goes to an
Apprise URL (``url``, or the name of a ``secret`` holding one) rather than a notification
block, and a deployment may be named (``deployment``) as well as given by
``deployment_id``. Texts and parameter values are Jinja templates, rendered with the
triggering event when the action runs (``papermill_bridge.automations``); their syntax is
checked here, when the automation is defined.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, field_validator, model_validator

__all__ = [
    "Action",
    "ActionTypes",
    "CancelFlowRun",
    "DeploymentAction",
    "DoNothing",
    "PauseAutomation",
    "PauseDeployment",
    "ResumeAutomation",
    "ResumeDeployment",
    "ResumeFlowRun",
    "RunDeployment",
    "SendNotification",
    "SuspendFlowRun",
]

DEFAULT_SUBJECT = "Taskbook automated notification"
# Prefect's default flow-run notification, with the run's link in Taskbook's console.
DEFAULT_BODY = """\
Flow run {{ flow.name }}/{{ flow_run.name }} observed in state `{{ flow_run.state.name }}` \
at {{ flow_run.state.timestamp }}.
Flow ID: {{ flow_run.flow_id }}
Flow run ID: {{ flow_run.id }}
Flow run URL: {{ run_url }}
State message: {{ flow_run.state.message }}
"""


class Action(BaseModel):
    """Something an automation does when it fires."""

    model_config = ConfigDict(extra="forbid")

    type: str

    def describe_for_cli(self) -> str:
        return self.type.replace("-", " ").capitalize()


class DoNothing(Action):
    """Do nothing (an automation that only records its firings)."""

    type: Literal["do-nothing"] = "do-nothing"


class DeploymentAction(Action):
    """An action on a deployment: the one selected (by ``deployment_id`` or name), or the
    one inferred from the triggering event (its ``prefect.deployment.<id>`` resource)."""

    source: Literal["selected", "inferred"] = "selected"
    deployment_id: uuid.UUID | None = Field(
        default=None, description="The identifier of the deployment"
    )
    deployment: str | None = Field(
        default=None, description="The name of the deployment (instead of its id)"
    )

    @model_validator(mode="after")
    def _selected_deployment_is_named(self) -> DeploymentAction:
        named = self.deployment_id is not None or bool(self.deployment)
        if self.deployment_id is not None and self.deployment:
            raise ValueError("give either `deployment_id` or `deployment` (a name), not both")
        if self.source == "selected" and not named:
            raise ValueError(
                "deployment_id is required: name the deployment (`deployment: NAME` or "
                "`deployment_id: ID`), or use `source: inferred` for the event's deployment"
            )
        if self.source == "inferred" and named:
            raise ValueError(
                "deployment_id is not allowed with `source: inferred` (the deployment is "
                "the triggering event's); use `source: selected` to name one"
            )
        return self

    def describe_for_cli(self) -> str:
        target = self.deployment or self.deployment_id or "the event's deployment"
        return f"{super().describe_for_cli()} {target}"


class RunDeployment(DeploymentAction):
    """Runs the deployment, with parameters that may be templates of the event."""

    type: Literal["run-deployment"] = "run-deployment"
    parameters: dict[str, Any] | None = Field(
        default=None,
        description="The parameters to pass to the deployment (string values may be "
        "Jinja templates of the triggering event), or None for the deployment's defaults",
    )
    job_variables: dict[str, Any] | None = Field(
        default=None,
        description="Accepted for Prefect compatibility and ignored: a Taskbook deployment "
        "runs on its workers as deployed",
    )
    schedule_after: timedelta = Field(
        default=timedelta(0),
        description="The time to wait before running the deployment (default: now)",
    )

    @field_validator("parameters")
    @classmethod
    def _templates_parse(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path, text in _strings(value, ""):
            check_template(text, f"the value at {path.lstrip('.')}")
        return value

    @field_validator("schedule_after")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("`schedule_after` cannot be negative")
        return value


class PauseDeployment(DeploymentAction):
    """Pauses the deployment's schedules."""

    type: Literal["pause-deployment"] = "pause-deployment"


class ResumeDeployment(DeploymentAction):
    """Resumes the deployment's schedules."""

    type: Literal["resume-deployment"] = "resume-deployment"


class CancelFlowRun(Action):
    """Cancels the flow run the triggering event is about."""

    type: Literal["cancel-flow-run"] = "cancel-flow-run"


class SuspendFlowRun(Action):
    """Suspends the flow run the triggering event is about."""

    type: Literal["suspend-flow-run"] = "suspend-flow-run"


class ResumeFlowRun(Action):
    """Resumes the (paused or suspended) flow run the triggering event is about."""

    type: Literal["resume-flow-run"] = "resume-flow-run"


class SendNotification(Action):
    """Sends a notification through Apprise: Slack, Teams, email, PagerDuty, webhooks."""

    type: Literal["send-notification"] = "send-notification"
    url: str | None = Field(
        default=None,
        description="An Apprise URL (e.g. `slack://...`, `mailto://...`, `json://host/`); "
        "may be a Jinja template",
    )
    secret: str | None = Field(
        default=None, description="The name of a stored Secret that holds the Apprise URL"
    )
    block_document_id: uuid.UUID | None = Field(
        default=None,
        description="Prefect's notification block: not supported (use `url` or `secret`)",
    )
    subject: str = Field(default=DEFAULT_SUBJECT)
    body: str = Field(default=DEFAULT_BODY, description="The text of the notification")

    @model_validator(mode="after")
    def _one_destination(self) -> SendNotification:
        if self.block_document_id is not None:
            raise ValueError(
                "notification blocks are not supported: give the Apprise URL as `url`, or "
                "`secret: NAME` for a Secret that holds it"
            )
        if bool(self.url) == bool(self.secret):
            raise ValueError(
                "give the destination as `url` (an Apprise URL such as `slack://...`) or "
                "as `secret` (the name of a Secret holding one), exactly one of them"
            )
        return self

    def describe_for_cli(self) -> str:
        if self.secret:
            return f"Send notification to the URL in secret {self.secret!r}"
        scheme = (self.url or "").partition("://")[0]
        return f"Send notification to {scheme}://..."

    @field_validator("url", "subject", "body")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        if value is not None:
            check_template(value)
        return value


class _AutomationAction(Action):
    """An action on an automation: the one selected, or the one that fired (inferred)."""

    source: Literal["selected", "inferred"] = "selected"
    automation_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _selected_automation_has_id(self) -> _AutomationAction:
        if (self.source == "selected") != (self.automation_id is not None):
            raise ValueError(
                "automation_id is "
                + ("not allowed with `source: inferred`" if self.automation_id else "required")
            )
        return self


class PauseAutomation(_AutomationAction):
    """Pauses an automation (this one, with ``source: inferred``)."""

    type: Literal["pause-automation"] = "pause-automation"


class ResumeAutomation(_AutomationAction):
    """Resumes an automation."""

    type: Literal["resume-automation"] = "resume-automation"


def check_template(text: str, where: str = "") -> None:
    """Raise ``ValueError`` (naming ``where``) if ``text`` is not a valid Jinja template."""
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        SandboxedEnvironment().parse(text)
    except TemplateSyntaxError as error:
        subject = f"{where} is not" if where else "not"
        raise ValueError(
            f"{subject} a valid Jinja template: {error.message} (line {error.lineno})"
        ) from None


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string inside ``value``, with where it is (``parameters.paths[0]``)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, f"{path}[{i}]")]
    return []


ActionTypes = Annotated[
    Union[
        DoNothing,
        RunDeployment,
        PauseDeployment,
        ResumeDeployment,
        CancelFlowRun,
        SuspendFlowRun,
        ResumeFlowRun,
        SendNotification,
        PauseAutomation,
        ResumeAutomation,
    ],
    Discriminator("type"),
]
