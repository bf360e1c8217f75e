"""``prefect.events``: ``emit_event`` and the event models, stored in Taskbook's store
(loaded on first use: they are pydantic models)."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes

_TARGETS = {
    "Event": "kernel_ext.events:Event",
    "RelatedResource": "kernel_ext.events:RelatedResource",
    "Resource": "kernel_ext.events:Resource",
    "emit_event": "kernel_ext.events:emit_event",
}
__all__ = list(_TARGETS)

__getattr__ = lazy_attributes(__name__, _TARGETS, {})
