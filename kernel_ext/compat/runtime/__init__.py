"""``prefect.runtime``: Taskbook's ``kernel_ext.runtime``, whose modules are the same
module objects under both names (``kernel_ext.compat.runtime.flow_run`` *is*
``kernel_ext.runtime.flow_run``), so an override or a monkeypatch applies to both."""

from __future__ import annotations

import sys

from kernel_ext.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]

for _module in (deployment, flow_run, task_run):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module
