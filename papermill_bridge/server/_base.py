"""What every handler shares: errors mapped to HTTP statuses in one place, the JSON body,
the query arguments, the user's name and the store.

The API's own errors subclass the package root ``TaskbookError``:

    TaskbookError
    ├── BadRequest   a query argument or a body field is missing or of the wrong kind
    └── NotFound     a deployment, notebook or output notebook the URL names is absent
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from jupyter_server.base.handlers import APIHandler

from kernel_ext._errors import (
    ArtifactNotFound,
    ConfigurationError,
    DeploymentNotFound,
    InputAlreadyAnswered,
    InputNotFound,
    InputValidationError,
    LimitNotFound,
    ParameterValidationError,
    RunNotFound,
    RunStateConflict,
    StoreUnavailableError,
    TaskbookError,
    VersionNotFound,
)

__all__ = [
    "AUTH_RESOURCE",
    "MAX_LIMIT",
    "BadRequest",
    "NotFound",
    "RawBody",
    "TaskbookHandler",
    "field",
    "query_limit",
]

MAX_LIMIT = 1000  # the most rows a list endpoint returns at once

AUTH_RESOURCE = "taskbook"


class BadRequest(TaskbookError, ValueError):
    """Raised when a query argument or a body field is missing or of the wrong kind."""


class NotFound(TaskbookError, LookupError):
    """Raised when a deployment, notebook or output notebook named by the URL is absent."""


class RawBody(NamedTuple):
    """An answer that is not JSON (the metrics' text), sent as it is with its type."""

    body: bytes
    content_type: str


# Most specific first: the first match decides the status.
_STATUSES: list[tuple[type[BaseException], int]] = [
    (BadRequest, 400),
    (DeploymentNotFound, 404),
    (LimitNotFound, 404),
    (VersionNotFound, 404),
    (ArtifactNotFound, 404),
    (InputValidationError, 400),
    (ParameterValidationError, 400),
    (ConfigurationError, 400),
    (NotFound, 404),
    (InputNotFound, 404),
    (RunNotFound, 404),
    (InputAlreadyAnswered, 409),
    (RunStateConflict, 409),
    (StoreUnavailableError, 503),
    (TaskbookError, 400),
]


def query_limit(text: str | None, default: int) -> int:
    """A ``limit`` query argument: a whole number from 1 to ``MAX_LIMIT`` (absent:
    ``default``), else a 400 that says so."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}.")
    return int(text)


def field(data: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    """``data[name]`` if it is a ``kind`` (absent or null: ``default``), else a 400."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BadRequest(f"{name!r} must be {_JSON_NAMES.get(kind, kind.__name__)}, got {value!r}.")
    return value


class TaskbookHandler(APIHandler):  # type: ignore[misc,unused-ignore]
    """Runs an action and writes its result, or the error's message with its status.

    Every method is authorized by Jupyter's authorizer on the resource ``taskbook``:
    ``read`` to look, ``write`` to change a run, a pause or a deployment's state, and
    ``execute`` to make workers run code (create a deployment, start a run). A refusal is
    Jupyter's own 403.
    """

    auth_resource = AUTH_RESOURCE

    def respond(self, action: Callable[[], Any], status: int = 200) -> None:
        try:
            result = action()
        except TaskbookError as error:
            code = next(c for kind, c in _STATUSES if isinstance(error, kind))
            self._error(code, str(error), type(error).__name__)
            return
        except Exception as error:  # a bug: still JSON, and the traceback in the log
            self.log.exception("Taskbook API: %s %s failed", self.request.method, self.request.uri)
            message = f"Internal error ({type(error).__name__}: {error}); see the server log."
            self._error(500, message, "InternalError")
            return
        self.set_status(status)
        if isinstance(result, RawBody):
            self.finish(result.body, set_content_type=result.content_type)
            return
        self.finish(json.dumps(result, default=str))

    def _error(self, code: int, message: str, name: str) -> None:
        self.set_status(code)
        self.finish(json.dumps({"message": message, "error": name}))

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as error:
            raise BadRequest(f"The request body is not JSON: {error.msg}.") from None
        except UnicodeDecodeError:
            raise BadRequest("The request body is not UTF-8 JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data

    def query(self, name: str) -> str | None:
        return self.get_query_argument(name, None) or None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:  # RFC 9110: say which methods there are
            methods = ("GET", "POST", "PUT", "DELETE")
            allowed = [m for m in methods if _defines(type(self), m.lower())]
            self.set_header("Allow", ", ".join(allowed))
        super().write_error(status_code, **kwargs)

    def user_name(self) -> str:
        user = self.current_user
        name = getattr(user, "name", None) or getattr(user, "username", None)
        return f"{name or 'jupyter'} (JupyterLab)"


def _defines(handler: type, method: str) -> bool:
    from tornado.web import RequestHandler

    return getattr(handler, method) is not getattr(RequestHandler, method)


_JSON_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    bool: "a boolean",
}
