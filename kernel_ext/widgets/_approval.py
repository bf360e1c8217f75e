"""``ApprovalForm``: the form that answers a paused flow run, inside the notebook.

The form is generated in the browser from the request's JSON schema (a ``RunInput``'s
pydantic schema; ``{}`` is a plain Resume/Reject). An answer goes first to the Jupyter
server's REST endpoint, so it reaches the run even while this kernel is busy waiting;
where that endpoint is missing (no server extension, another frontend), the browser sends
it to this object, which hands it to ``on_answer`` / ``on_reject``.

    form = ApprovalForm(request, on_answer=take_answer, on_reject=take_rejection)
    form.refresh(updated_request)   # e.g. when the answer came from elsewhere
"""

from __future__ import annotations

import getpass
import logging
import pathlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import anywidget
import traitlets

from kernel_ext.widgets._contract import InputRequest, ResultReply

__all__ = ["ApprovalForm", "normalize_request"]

_STATIC = pathlib.Path(__file__).parent / "static"
_log = logging.getLogger("taskbook.widgets")

OnAnswer = Callable[[dict[str, Any]], "str | None"]
OnReject = Callable[["str | None"], "str | None"]

_NO_CALLBACK = (
    "This form cannot take answers from the notebook here; answer it from the Taskbook "
    "sidebar in JupyterLab or with the taskbook command line."
)


def normalize_request(request: Mapping[str, Any]) -> InputRequest:
    """The request with every field the form reads, defaults filled in."""
    return {
        "id": str(request["id"]),
        "flow_run_id": str(request.get("flow_run_id") or ""),
        "flow_run_name": str(request.get("flow_run_name") or ""),
        "key": str(request.get("key") or ""),
        "description": str(request.get("description") or ""),
        "schema": dict(request.get("schema") or {}),
        "status": request.get("status") or "pending",
        "error": request.get("error"),
        "answer": request.get("answer"),
        "answered_by": request.get("answered_by"),
        "answered_at": request.get("answered_at"),
        "flow_name": request.get("flow_name"),
        "timeout_at": request.get("timeout_at"),
    }


class ApprovalForm(anywidget.AnyWidget):
    """Shows one input request and takes its answer or rejection.

    ``on_answer(answer)`` and ``on_reject(reason)`` return None when they took it, or an
    error message the form shows (e.g. the answer does not fit the fields).
    """

    _esm = _STATIC / "approval.js"
    _css = _STATIC / "approval.css"

    request = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        request: Mapping[str, Any],
        on_answer: OnAnswer | None = None,
        on_reject: OnReject | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.request = dict(normalize_request(request))
        self._on_answer = on_answer
        self._on_reject = on_reject
        self.on_msg(self._on_message)

    def refresh(self, request: Mapping[str, Any]) -> None:
        """Show ``request`` as it is now (answered elsewhere, expired, ...)."""
        self.request = dict(normalize_request(request))

    def _on_message(self, _widget: object, content: Any, _buffers: object) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "answer" and isinstance(content.get("answer"), dict):
            error = self._call(self._on_answer, content["answer"])
            self._settle("answer", error, "answered", content["answer"])
        elif kind == "reject":
            reason = content.get("reason")
            error = self._call(self._on_reject, reason if isinstance(reason, str) else None)
            self._settle("reject", error, "rejected", None)
        else:
            _log.warning("[taskbook] ApprovalForm ignored a message it does not know: %r", content)

    def _call(self, callback: Callable[[Any], str | None] | None, value: Any) -> str | None:
        if callback is None:
            return _NO_CALLBACK
        try:
            return callback(value)
        except Exception as error:  # shown in the form, not lost in the kernel's log
            _log.exception("[taskbook] the answer callback failed")
            return f"{type(error).__name__}: {error}"

    def _settle(
        self, action: Literal["answer", "reject"], error: str | None, status: str, answer: Any
    ) -> None:
        current = dict(self.request)
        if error is not None:
            current["error"] = error
        elif current.get("status") == "pending":  # the callback did not refresh() us
            current.update(
                status=status,
                error=None,
                answer=answer,
                answered_by=_user(),
                answered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        self.request = current
        reply: ResultReply = {"type": "result", "action": action, "error": error}
        self.send(reply)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data, metadata = super()._repr_mimebundle_(**kwargs) or ({}, {})
        request = self.request
        status = request.get("status", "pending")
        who = f" by {request['answered_by']}" if request.get("answered_by") else ""
        run = request.get("flow_run_name") or request.get("flow_run_id")
        data["text/plain"] = f"ApprovalForm: input {request.get('key')!r} of flow run {run!r}: "
        data["text/plain"] += f"{status}{who}"
        return data, metadata


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return None
