"""Automations: triggers on the events in the store, and the actions they start
(Prefect 3's ``prefect.automations``; ``prefect.events.schemas.automations`` and
``prefect.events.actions`` in ``kernel_ext.compat``).

    from kernel_ext.automations import Automation, EventTrigger, SendNotification

    Automation(
        name="failed-runs-to-slack",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}),
        actions=[SendNotification(url="slack://T000/B000/XXXX")],
    ).create()

Or from a file, as ``taskbook automations create --from-file automations.yaml`` does:
``load_automations("automations.yaml")``. The scheduler (``taskbook serve``) evaluates
them (``papermill_bridge.automations``).
"""

from __future__ import annotations

from kernel_ext.automations._actions import (
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    Action,
    ActionTypes,
    CancelFlowRun,
    DeploymentAction,
    DoNothing,
    PauseAutomation,
    PauseDeployment,
    ResumeAutomation,
    ResumeDeployment,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
    SuspendFlowRun,
)
from kernel_ext.automations._automation import Automation, AutomationCore
from kernel_ext.automations._loading import (
    AutomationFileError,
    describe_errors,
    load_automations,
    parse_automations,
)
from kernel_ext.automations._resources import ResourceSpecification, glob_matches
from kernel_ext.automations._triggers import (
    CompositeTrigger,
    CompoundTrigger,
    EventTrigger,
    Posture,
    ResourceTrigger,
    SequenceTrigger,
    Trigger,
    TriggerTypes,
)

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "Action",
    "ActionTypes",
    "Automation",
    "AutomationCore",
    "AutomationFileError",
    "CancelFlowRun",
    "CompositeTrigger",
    "CompoundTrigger",
    "DeploymentAction",
    "DoNothing",
    "EventTrigger",
    "PauseAutomation",
    "PauseDeployment",
    "Posture",
    "ResourceSpecification",
    "ResourceTrigger",
    "ResumeAutomation",
    "ResumeDeployment",
    "ResumeFlowRun",
    "RunDeployment",
    "SendNotification",
    "SequenceTrigger",
    "SuspendFlowRun",
    "Trigger",
    "TriggerTypes",
    "describe_errors",
    "glob_matches",
    "load_automations",
    "parse_automations",
]
