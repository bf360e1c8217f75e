"""``prefect.events.actions``: what automations do when they fire (loaded on first use)."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes
from kernel_ext.compat.automations import INSTEAD

_NAMES = (
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
)
_TARGETS = {name: f"kernel_ext.automations:{name}" for name in _NAMES}
__all__ = list(_TARGETS)

__getattr__ = lazy_attributes(
    __name__, _TARGETS, {name: why for name, why in INSTEAD.items() if "Metric" not in name}
)
