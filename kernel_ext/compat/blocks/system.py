"""``prefect.blocks.system``: ``Secret``, encrypted in Taskbook's store (loaded on first
use: it is a pydantic model)."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes

_TARGETS = {"Secret": "kernel_ext.secrets:Secret"}
__all__ = list(_TARGETS)  # resolved by __getattr__, so pydantic loads on use

__getattr__ = lazy_attributes(__name__, _TARGETS, {})
