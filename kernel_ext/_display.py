"""Showing runs and forms in a notebook, when there is one.

Everything here is a no-op outside an IPython kernel with a frontend (a script, a test,
a worker), and costs one dictionary lookup there. Widgets load only when shown.
``TASKBOOK_WIDGETS=0`` turns the live graph under flow calls off.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_ext.store.records import ArtifactRecord, InputRequestRecord

__all__ = [
    "in_notebook",
    "show_approval_form",
    "show_artifact",
    "show_run_graph",
    "update_artifact_display",
]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not plain Python)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(widget: Any) -> None:
    from IPython import display as ipython_display

    show: Any = ipython_display.display
    show(widget)


def show_run_graph(flow_run: Any) -> Any:
    """Display the live graph of ``flow_run`` under the running cell; returns the widget."""
    if os.environ.get("TASKBOOK_WIDGETS", "1") == "0" or not in_notebook():
        return None
    try:
        from kernel_ext.widgets import RunGraph
    except ImportError:
        return None
    graph = RunGraph.for_flow_run(flow_run)
    _display(graph)
    return graph


def show_artifact(record: ArtifactRecord) -> None:
    """Display an artifact under the running cell (a progress bar can be updated)."""
    if in_notebook():
        _show_bundle(record, update=False)


def update_artifact_display(record: ArtifactRecord) -> None:
    """Redraw an artifact shown by ``show_artifact`` in this kernel (a progress bar)."""
    if in_notebook():
        _show_bundle(record, update=True)


def _show_bundle(record: ArtifactRecord, *, update: bool) -> None:
    from IPython import display as ipython_display

    from kernel_ext._artifact_view import mime_bundle

    show: Any = ipython_display.display
    display_id = f"taskbook-artifact-{record['id']}"
    show(mime_bundle(record), raw=True, display_id=display_id, update=update)


def show_approval_form(request: InputRequestRecord) -> Any:
    """Display the form of a paused run's input request; returns the widget (or None)."""
    if not in_notebook():
        from kernel_ext.approvals import answer_hint

        print(
            f"[taskbook] Waiting for input {request['key']!r}: answer with "
            f"`{answer_hint(request)}`."
        )
        return None
    try:
        from kernel_ext.widgets import ApprovalForm
    except ImportError:
        return None
    from kernel_ext import approvals

    form = ApprovalForm(
        request,
        on_answer=lambda answer: _attempt(approvals.answer, request["id"], answer),
        on_reject=lambda reason: _attempt(approvals.reject, request["id"], reason),
    )
    _display(form)
    return form


def _attempt(action: Any, request_id: str, value: Any) -> str | None:
    from kernel_ext._errors import InputError

    try:
        action(request_id, value)
    except InputError as error:
        return str(error)
    return None
