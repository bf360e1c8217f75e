"""``prefect.blocks``: only the ``Secret`` block (``prefect.blocks.system``) has a
counterpart; Taskbook keeps other configuration in variables (``prefect.variables``)."""

from __future__ import annotations

from kernel_ext.compat.blocks import system

__all__ = ["system"]
