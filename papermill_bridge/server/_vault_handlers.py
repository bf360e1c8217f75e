"""Secrets and variables for the console: secrets by name only, variables in full.

    GET    secrets                 names and times of the secrets (never a value)
    GET    variables               every variable with its value and tags
    GET    variables/{name}        one variable
    PUT    variables/{name}        {"value": JSON, "tags": [...]}: create or replace it
                                   (its tags too), as ``Variable.set(overwrite=True)``
    DELETE variables/{name}        remove it

Paths are relative to /taskbook/api/. Names are used as they are: a profile is a name
prefix (``prod-warehouse``), and the console shows every profile's names. A secret's
value cannot be read or written here: it goes in through ``taskbook secrets set``.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext.store import get_store
from kernel_ext.store.records import VariableRecord
from papermill_bridge.server._base import BadRequest, NotFound, TaskbookHandler, field

__all__ = ["ROUTES"]


class SecretsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: get_store().list_secrets())


class VariablesHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: get_store().list_variables())


class VariableHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, name: str) -> None:
        self.respond(lambda: _variable(name))

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def put(self, name: str) -> None:
        self.respond(lambda: _put(name, self.body()))

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def delete(self, name: str) -> None:
        def delete() -> dict[str, Any]:
            if not get_store().unset_variable(name):
                raise NotFound(_missing(name))
            return {"name": name, "deleted": True}

        self.respond(delete)


def _variable(name: str) -> VariableRecord:
    found = get_store().read_variable(name)
    if found is None:
        raise NotFound(_missing(name))
    return found


def _put(name: str, body: dict[str, Any]) -> VariableRecord:
    """Create or replace variable ``name`` (PUT is idempotent: it overwrites, tags too)."""
    from kernel_ext.variables import check_name, check_value

    if "value" not in body:
        raise BadRequest('The body needs "value": any JSON value (null too).')
    tags = field(body, "tags", list, [])
    if not all(isinstance(tag, str) for tag in tags):
        raise BadRequest(f"'tags' must be an array of strings, got {tags!r}.")
    value = check_value(body["value"])
    return get_store().set_variable(check_name(name), value, tags, overwrite=True)


def _missing(name: str) -> str:
    return f"There is no variable named {name!r}; create it with PUT variables/{name}."


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"secrets", SecretsHandler),
    (r"variables", VariablesHandler),
    (r"variables/([^/]+)", VariableHandler),
]
