"""``prefect.automations``: ``Automation`` with its triggers and actions, kept in
Taskbook's store (loaded on first use: they are pydantic models)."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes

_NAMES = (
    "Automation",
    "AutomationCore",
    "CancelFlowRun",
    "CompositeTrigger",
    "CompoundTrigger",
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
)
_TARGETS = {name: f"kernel_ext.automations:{name}" for name in _NAMES}
__all__ = list(_TARGETS)

_METRICS = "metric triggers are not supported; use an EventTrigger (Reactive or Proactive)"
_RUNS = "act on runs with CancelFlowRun, SuspendFlowRun or ResumeFlowRun"
_WORK = "Taskbook has no work pools or queues; PauseDeployment pauses a deployment's schedules"
INSTEAD = {
    "MetricTrigger": _METRICS,
    "MetricTriggerOperator": _METRICS,
    "MetricTriggerQuery": _METRICS,
    "PrefectMetric": _METRICS,
    "ChangeFlowRunState": _RUNS,
    "DeleteFlowRun": _RUNS + " (or `taskbook runs delete`)",
    "CallWebhook": "use SendNotification with an Apprise URL such as json://host/path",
    "PauseWorkPool": _WORK,
    "ResumeWorkPool": _WORK,
    "PauseWorkQueue": _WORK,
    "ResumeWorkQueue": _WORK,
    "DeclareIncident": "incidents are a Prefect Cloud feature; use SendNotification",
}

__getattr__ = lazy_attributes(__name__, _TARGETS, INSTEAD)
