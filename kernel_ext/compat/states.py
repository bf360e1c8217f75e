"""``prefect.states``: Taskbook's ``State``, ``StateType`` and the state constructors."""

from __future__ import annotations

from kernel_ext._states import (
    AwaitingConcurrencySlot,
    AwaitingRetry,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    Paused,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateType,
    Suspended,
    is_state_iterable,
)
from kernel_ext._states import state_exception as get_state_exception
from kernel_ext.compat._lazy import lazy_attributes

__all__ = [
    "AwaitingConcurrencySlot",
    "AwaitingRetry",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateType",
    "Suspended",
    "get_state_exception",
    "is_state_iterable",
]

_NO_SUCH_STATE = "Taskbook runs go from Pending to Running; there is no such state"
__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "Submitting": _NO_SUCH_STATE,
        "InfrastructurePending": _NO_SUCH_STATE,
        "raise_state_exception": "call state.result(), which raises the run's exception",
    },
)
