"""``prefect.logging``: ``get_run_logger`` and ``disable_run_logger``."""

from __future__ import annotations

from kernel_ext._logging import disable_run_logger, get_run_logger
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["disable_run_logger", "get_run_logger"]

__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "get_logger": "use logging.getLogger(name), or get_run_logger() inside a run",
    },
)
