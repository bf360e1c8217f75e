"""The OpenAPI document: served as it ships, sound, and in step with the routes.

That every answer fits it is checked by ``call`` in the other server tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from papermill_bridge.server._handlers import ROUTES, openapi_document
from tests.papermill_bridge.test_server_api import DOCUMENT, call, conforms, resolve, server

__all__ = ["server"]  # the fixture, imported for pytest to find


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_reference_resolves_and_every_schema_is_valid() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    for ref in refs(DOCUMENT):
        assert resolve({"$ref": ref}), ref
    for schema in DOCUMENT["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    names = set(DOCUMENT["components"]["schemas"])
    assert {"Run", "TaskRun", "Deployment", "InputRequest", "Error"} <= names


def test_the_document_and_the_routes_agree() -> None:
    routes = {re.sub(r"\(\[[^)]*\]\+\)", "{}", p).replace("\\.", ".") for p, _ in ROUTES}
    documented = {
        "/".join("{}" if s.startswith("{") else s for s in t[1:].split("/"))
        for t in DOCUMENT["paths"]
    }
    assert routes == documented
    for path, handler in ROUTES:
        template = next(
            t for t in DOCUMENT["paths"] if re.fullmatch(path, re.sub(r"\{\w+\}", "x", t[1:]))
        )
        methods = {m for m in ("get", "post", "put", "delete") if m in vars(handler)}
        ours = [b for b in handler.__mro__ if b.__module__.startswith("papermill_bridge")]
        methods |= {m for base in ours for m in ("get", "post") if m in vars(base)}
        assert methods == set(DOCUMENT["paths"][template]), path


def test_every_operation_documents_errors_as_error_objects() -> None:
    for template, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"403", "500"} <= statuses, (method, template)
            for status in statuses:
                if status.startswith(("4", "5")) and status != "403":
                    conforms(
                        method,
                        f"/taskbook/api{_example(template)}",
                        int(status),
                        {"message": "what to do next", "error": "SomeError"},
                    )


def _example(template: str) -> str:
    return re.sub(r"\{\w+\}", "x", template)


def test_answers_that_do_not_fit_are_caught() -> None:
    with pytest.raises(jsonschema.ValidationError):
        conforms("GET", "/taskbook/api/runs/x", 404, {"detail": "no message"})
    with pytest.raises(AssertionError, match="answered 418"):
        conforms("GET", "/taskbook/api/runs/x", 418, {"message": "teapot"})
    with pytest.raises(AssertionError, match="not in the OpenAPI document"):
        conforms("GET", "/taskbook/api/nothing/here/at/all", 200, {})


@pytest.mark.slow
def test_served_as_it_ships(server: tuple[str, Path]) -> None:
    url, _ = server
    status, document = call(url, "GET", "/taskbook/api/openapi.json")
    assert status == 200 and document == openapi_document() == DOCUMENT
