"""Jupyter's authorizer decides every call of the REST API, as it does for Jupyter's own:
``read`` to look, ``write`` to change state, ``execute`` to make workers run code.
A real Jupyter server with an authorizer class of the test's own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.papermill_bridge.test_server_api import call, jupyter_server

pytestmark = pytest.mark.slow

AUTHORIZERS = """
from jupyter_server.auth import Authorizer


class ReadOnly(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return action == "read"


class NoExecute(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return action != "execute"
"""

# Every call that changes something, with the action it needs.
WRITES = [
    ("POST", "/taskbook/api/deployments", {"notebook": "x.ipynb", "name": "x"}, "execute"),
    ("POST", "/taskbook/api/deployments/x/runs", {}, "execute"),
    ("POST", "/taskbook/api/deployments/x/pause", None, "write"),
    ("POST", "/taskbook/api/deployments/x/resume", None, "write"),
    ("PUT", "/taskbook/api/deployments/x/schedules", {"schedules": []}, "execute"),
    ("DELETE", "/taskbook/api/deployments/x", None, "write"),
    ("POST", "/taskbook/api/runs/abc/cancel", None, "write"),
    ("POST", "/taskbook/api/runs/abc/retry", None, "execute"),
    ("DELETE", "/taskbook/api/runs/abc", None, "write"),
    ("POST", "/taskbook/api/runs/abc/resume", {"answer": {}}, "write"),
    ("POST", "/taskbook/api/runs/abc/output/open", None, "write"),
    ("POST", "/taskbook/api/inputs/abc/answer", {"answer": {}}, "write"),
    ("POST", "/taskbook/api/inputs/abc/reject", {}, "write"),
]
READS = [
    "/taskbook/api/runs",
    "/taskbook/api/inputs",
    "/taskbook/api/deployments",
    "/taskbook/api/limits",
    "/taskbook/api/openapi.json",
]
# Reads of what does not exist: allowed, so the answer is a 404, not a 403.
READS_OF_ABSENT = ["/taskbook/api/deployments/x/diff", "/taskbook/api/runs?parent=x"]


def start_server(home: Path, authorizer: str) -> Iterator[str]:
    (home / "authorizers.py").write_text(AUTHORIZERS)
    path = f"{home}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    yield from jupyter_server(
        home, f"--ServerApp.authorizer_class=authorizers.{authorizer}", PYTHONPATH=path
    )


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_server(tmp_path_factory.mktemp("read-only"), "ReadOnly")


@pytest.fixture(scope="module")
def no_execute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_server(tmp_path_factory.mktemp("no-execute"), "NoExecute")


@pytest.mark.parametrize("path", READS)
def test_a_reader_can_read(read_only: str, path: str) -> None:
    status, _ = call(read_only, "GET", path)
    assert status == 200


@pytest.mark.parametrize("path", READS_OF_ABSENT)
def test_a_reader_is_told_what_is_absent(read_only: str, path: str) -> None:
    status, answer = call(read_only, "GET", path)
    assert status == 404, answer


WRITE_CASES = pytest.mark.parametrize(
    ("method", "path", "body", "action"), WRITES, ids=[f"{m} {p}" for m, p, _, _ in WRITES]
)


@WRITE_CASES
def test_a_reader_cannot_change_anything(
    read_only: str, method: str, path: str, body: object, action: str
) -> None:
    status, answer = call(read_only, method, path, body)
    assert status == 403, answer
    # Jupyter's own API refuses the same user the same way.
    jupyter, _ = call(
        read_only,
        "PUT",
        "/api/contents/new.txt",
        {"type": "file", "format": "text", "content": "x"},
    )
    assert jupyter == 403


@WRITE_CASES
def test_running_code_needs_execute(
    no_execute: str, method: str, path: str, body: object, action: str
) -> None:
    status, answer = call(no_execute, method, path, body)
    if action == "execute":
        assert status == 403, answer
    else:  # allowed; the run or deployment named does not exist
        assert status in (400, 404), answer
