"""Notebook widgets: the live run graph and the approval form (anywidget).

    from kernel_ext.widgets import RunGraph, ApprovalForm

The JavaScript is bundled into ``static/`` at build time (``npm run build:widgets``) and
ships in the package: nothing is fetched from a CDN. The widget classes load on first
access, so helpers here (e.g. the graph aggregation) stay usable without anywidget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_ext.widgets._approval import ApprovalForm
    from kernel_ext.widgets._graph import RunGraph

__all__ = ["ApprovalForm", "RunGraph"]


def __getattr__(name: str) -> Any:
    if name == "RunGraph":
        from kernel_ext.widgets._graph import RunGraph

        return RunGraph
    if name == "ApprovalForm":
        from kernel_ext.widgets._approval import ApprovalForm

        return ApprovalForm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
