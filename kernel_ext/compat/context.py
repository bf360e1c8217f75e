"""``prefect.context``: ``get_run_context``, ``FlowRunContext``, ``TaskRunContext`` and
``tags``, from ``kernel_ext.context``."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes
from kernel_ext.context import FlowRunContext, TaskRunContext, get_run_context, tags

__all__ = ["FlowRunContext", "TaskRunContext", "get_run_context", "tags"]

_SETTINGS = "Taskbook's settings are environment variables (TASKBOOK_HOME, TASKBOOK_STORE_URL)"
__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "TagsContext": "`with tags() as current:` gives the current tags",
        "SettingsContext": _SETTINGS,
        "get_settings_context": _SETTINGS,
        "use_profile": _SETTINGS,
    },
)
