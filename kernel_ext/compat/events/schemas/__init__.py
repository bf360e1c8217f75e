"""``prefect.events.schemas``: the models of automations (``.automations``)."""

from __future__ import annotations

from kernel_ext.compat.events.schemas import automations

__all__ = ["automations"]
