"""``Flow.deploy`` and ``Flow.serve`` are carried out by the deployments layer, found by
entry point (as ``%promote`` is), so the runtime never imports it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernel_ext._errors import ConfigurationError

__all__ = ["deployer"]

GROUP = "taskbook.deployers"


def deployer(kind: str) -> Callable[..., Any]:
    """The function behind ``Flow.<kind>`` ("deploy" or "serve")."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=GROUP, name=kind):
        function: Callable[..., Any] = entry.load()
        return function
    raise ConfigurationError(
        f"Flow.{kind}() needs Taskbook's deployments, which this installation does not "
        "register; reinstall it: pip install --force-reinstall taskbook."
    )
