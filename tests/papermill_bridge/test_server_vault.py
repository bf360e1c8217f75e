"""Secrets (names only) and variables through the REST API of a real Jupyter server;
every answer is checked against the OpenAPI document by ``call``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import _redaction
from kernel_ext.testing import taskbook_test_harness
from tests.papermill_bridge.test_server_api import call, server

__all__ = ["server"]  # the fixture, imported for pytest to find

pytestmark = pytest.mark.slow

VALUE = "sk-live-0c9e51aa"
API = "/taskbook/api"


def save_secret(home: Path, name: str, value: Any) -> None:
    """Save a secret in the server's store, as `taskbook secrets set` would."""
    with taskbook_test_harness(store_url=f"sqlite:///{home / 'taskbook.db'}"):
        from kernel_ext import Secret

        Secret(value=value).save(name, overwrite=True)
    _redaction.forget_all()


def test_secrets_are_listed_by_name_only(server: tuple[str, Path]) -> None:
    url, home = server
    save_secret(home, "openai", VALUE)
    save_secret(home, "prod-warehouse", {"password": VALUE})
    status, listed = call(url, "GET", f"{API}/secrets")
    assert status == 200
    assert [sorted(r) for r in listed] == [["created", "name", "updated"]] * len(listed)
    assert {"openai", "prod-warehouse"} <= {r["name"] for r in listed}
    assert VALUE not in json.dumps(listed)


def test_variables_are_created_read_replaced_and_deleted(server: tuple[str, Path]) -> None:
    url, _ = server
    status, created = call(url, "PUT", f"{API}/variables/batch_size", {"value": 500})
    assert status == 200 and (created["name"], created["value"], created["tags"]) == (
        "batch_size",
        500,
        [],
    )
    body = {"value": {"retries": 3}, "tags": ["etl"]}
    status, replaced = call(url, "PUT", f"{API}/variables/batch_size", body)
    assert status == 200 and (replaced["value"], replaced["tags"]) == ({"retries": 3}, ["etl"])
    assert replaced["created"] == created["created"]
    status, null = call(url, "PUT", f"{API}/variables/nothing", {"value": None})
    assert status == 200 and null["value"] is None

    status, read = call(url, "GET", f"{API}/variables/batch_size")
    assert status == 200 and read == replaced
    status, listed = call(url, "GET", f"{API}/variables")
    assert status == 200 and {"batch_size", "nothing"} <= {r["name"] for r in listed}

    status, deleted = call(url, "DELETE", f"{API}/variables/batch_size")
    assert status == 200 and deleted == {"name": "batch_size", "deleted": True}
    status, error = call(url, "GET", f"{API}/variables/batch_size")
    assert status == 404 and "PUT variables/batch_size" in error["message"]
    status, error = call(url, "DELETE", f"{API}/variables/batch_size")
    assert status == 404


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("Bad%20Name", {"value": 1}, "dashes or underscores"),
        ("ok", {}, '"value"'),
        ("ok", {"value": "x" * 5001}, "less than 5000 characters"),
        ("ok", {"value": 1, "tags": "etl"}, "'tags' must be an array"),
        ("ok", {"value": 1, "tags": [1]}, "array of strings"),
    ],
)
def test_bad_variables_are_refused_with_400(
    server: tuple[str, Path], name: str, body: dict[str, Any], message: str
) -> None:
    url, _ = server
    status, error = call(url, "PUT", f"{API}/variables/{name}", body)
    assert status == 400 and message in error["message"], error


def test_unauthenticated_calls_are_refused(server: tuple[str, Path]) -> None:
    url, _ = server
    assert call(url, "GET", f"{API}/secrets", token=None)[0] == 403
    assert call(url, "PUT", f"{API}/variables/x", {"value": 1}, token=None)[0] == 403
