"""``ActionFailed``: why an automation's action could not be done."""

from __future__ import annotations

from kernel_ext._errors import TaskbookError

__all__ = ["ActionFailed"]


class ActionFailed(TaskbookError):
    """Raised when an automation's action cannot be done: no run or deployment to infer
    from the event, a template that fails to render; ``NotificationFailed``, a
    notification not delivered; ``ActionsFailed``, some actions of a firing failed."""
