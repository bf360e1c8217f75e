"""``prefect.exceptions``: Taskbook's errors under Prefect's names.

``PrefectException`` is ``TaskbookError``, the root of every Taskbook error, and
``TerminationSignal`` is ``Terminated``.
"""

from __future__ import annotations

from kernel_ext._errors import (
    Abort,
    CancelledRun,
    CrashedRun,
    EventTooLarge,
    FailedRun,
    InvalidNameError,
    MappingLengthMismatch,
    MappingMissingIterable,
    MissingContextError,
    MissingResult,
    ParameterBindError,
    ParameterTypeError,
    PausedRun,
    PrefectException,
    ReservedArgumentError,
    SignatureMismatchError,
    TerminationSignal,
    UnfinishedRun,
    UpstreamTaskError,
)
from kernel_ext._errors import TaskbookSignal as PrefectSignal
from kernel_ext.compat._lazy import lazy_attributes

__all__ = [
    "Abort",
    "CancelledRun",
    "CrashedRun",
    "EventTooLarge",
    "FailedRun",
    "InvalidNameError",
    "MappingLengthMismatch",
    "MappingMissingIterable",
    "MissingContextError",
    "MissingResult",
    "ParameterBindError",
    "ParameterTypeError",
    "PausedRun",
    "PrefectException",
    "PrefectSignal",
    "ReservedArgumentError",
    "SignatureMismatchError",
    "TerminationSignal",
    "UnfinishedRun",
    "UpstreamTaskError",
]

__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "ObjectNotFound": "the store raises kernel_ext._errors.RunNotFound",
        "Pause": "pause_flow_run() pauses in place; in a deployment run it raises Suspend",
    },
)
