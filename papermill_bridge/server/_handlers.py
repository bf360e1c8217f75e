"""REST handlers. Errors map to HTTP statuses in one place: ``TaskbookHandler.respond``.

    GET  /taskbook/api/inputs?status=pending     input requests (paused runs' forms)
    GET  /taskbook/api/inputs/{id}               one input request
    POST /taskbook/api/inputs/{id}/answer        {"answer": {...}}  -> resumes the run
    POST /taskbook/api/inputs/{id}/reject        {"reason": "..."}  -> cancels the run
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from kernel_ext._errors import (
    ConfigurationError,
    InputAlreadyAnswered,
    InputNotFound,
    InputValidationError,
    ParameterValidationError,
    RunNotFound,
    StoreUnavailableError,
    TaskbookError,
)

__all__ = ["ROUTES"]

# Most specific first: the first match decides the status.
_STATUSES: list[tuple[type[BaseException], int]] = [
    (InputValidationError, 400),
    (ParameterValidationError, 400),
    (ConfigurationError, 400),
    (InputNotFound, 404),
    (RunNotFound, 404),
    (InputAlreadyAnswered, 409),
    (StoreUnavailableError, 503),
    (TaskbookError, 400),
]


class TaskbookHandler(APIHandler):  # type: ignore[misc,unused-ignore]
    """Runs an action and writes its result, or the error's message with its status."""

    def respond(self, action: Callable[[], Any], status: int = 200) -> None:
        try:
            result = action()
        except TaskbookError as error:
            code = next(c for kind, c in _STATUSES if isinstance(error, kind))
            self.set_status(code)
            self.finish(json.dumps({"message": str(error), "error": type(error).__name__}))
            return
        self.set_status(status)
        self.finish(json.dumps(result, default=str))

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as error:
            raise InputValidationError(f"The request body is not JSON: {error.msg}.") from None
        if not isinstance(data, dict):
            raise InputValidationError("The request body must be a JSON object.")
        return data

    def user_name(self) -> str:
        user = self.current_user
        name = getattr(user, "name", None) or getattr(user, "username", None)
        return f"{name or 'jupyter'} (JupyterLab)"


def _store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


class InputsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    def get(self) -> None:
        status = self.get_query_argument("status", "pending") or None
        self.respond(lambda: _store().list_input_requests(
            status=None if status == "all" else status))  # fmt: skip


class InputHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    def get(self, request_id: str) -> None:
        self.respond(lambda: _store().read_input_request(request_id))


class AnswerHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    def post(self, request_id: str) -> None:
        from kernel_ext import approvals

        def answer() -> Any:
            return approvals.answer(request_id, self.body().get("answer"), self.user_name())

        self.respond(answer)


class RejectHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    def post(self, request_id: str) -> None:
        from kernel_ext import approvals

        def reject() -> Any:
            return approvals.reject(request_id, self.body().get("reason"), self.user_name())

        self.respond(reject)


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"inputs", InputsHandler),
    (r"inputs/([\w-]+)", InputHandler),
    (r"inputs/([\w-]+)/answer", AnswerHandler),
    (r"inputs/([\w-]+)/reject", RejectHandler),
]
