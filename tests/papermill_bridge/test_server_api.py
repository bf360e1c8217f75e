"""The REST API in a real Jupyter server: auth, XSRF, and errors mapped to statuses.

Every answer of /taskbook/api/ is checked against the OpenAPI document: its status must be
documented for that path and method, and its JSON body must fit the documented schema.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kernel_ext.testing import taskbook_test_harness
from papermill_bridge.server._handlers import openapi_document

pytestmark = pytest.mark.slow

TOKEN = secrets.token_hex(16)
API = "/taskbook/api"
DOCUMENT = openapi_document()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("server")
    for url in jupyter_server(home):
        yield url, home


def jupyter_server(home: Path, *options: str, **env: str) -> Iterator[str]:
    """A real Jupyter server on ``home`` (its root and Taskbook home) until resumed."""
    port = free_port()
    environment = {
        **os.environ,
        "TASKBOOK_HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "cfg"),
        **env,
    }
    environment.pop("TASKBOOK_STORE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={home}",
            *options,
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            call(url, "GET", "/api/status")
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=30)


def call(
    base: str, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        status, answer = error.code, json.loads(error.read() or b"null")
    if path.startswith(API + "/"):
        conforms(method, path, status, answer)
    return status, answer


def conforms(method: str, url: str, status: int, body: Any) -> None:
    """``body`` fits the document's schema for this path, method and status."""
    path = url.removeprefix(API).split("?")[0]
    template = next(
        (t for t in DOCUMENT["paths"] if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", t), path)), None
    )
    assert template, f"{path} is not in the OpenAPI document"
    responses = DOCUMENT["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}: {body}"
    response = resolve(responses[str(status)])
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(
        body, {**schema, "components": DOCUMENT["components"]}, cls=jsonschema.Draft202012Validator
    )


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while "$ref" in node:
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def pending_request(home: Path, schema: dict[str, Any], flow_run_id: str | None = None) -> str:
    with taskbook_test_harness(store_url=f"sqlite:///{home / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        request = get_store().create_input_request(
            id=secrets.token_hex(8),
            flow_run_id=flow_run_id or secrets.token_hex(8),
            key="review",
            schema=schema,
            description="Check it",
            timeout_at=time.time() + 600,
        )
        return str(request["id"])


SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "feedback": {"type": "string"}},
    "required": ["approved"],
    "additionalProperties": False,
}


def test_unauthenticated_calls_are_refused(server: tuple[str, Path]) -> None:
    url, _ = server
    status, _ = call(url, "GET", "/taskbook/api/inputs", token=None)
    assert status == 403


def test_answering_through_the_api(server: tuple[str, Path]) -> None:
    url, home = server
    request_id = pending_request(home, SCHEMA)
    status, listed = call(url, "GET", "/taskbook/api/inputs")
    assert status == 200 and request_id in [r["id"] for r in listed]

    status, error = call(
        url, "POST", f"/taskbook/api/inputs/{request_id}/answer", {"answer": {"approved": "yes"}}
    )
    assert status == 400 and "approved: 'yes' is not of type 'boolean'" in error["message"]

    status, answered = call(
        url, "POST", f"/taskbook/api/inputs/{request_id}/answer", {"answer": {"approved": True}}
    )
    assert status == 200 and answered["status"] == "answered"
    assert answered["answered_by"].endswith("(JupyterLab)")

    status, error = call(
        url, "POST", f"/taskbook/api/inputs/{request_id}/answer", {"answer": {"approved": False}}
    )
    assert status == 409


def test_unknown_ids_and_bad_bodies(server: tuple[str, Path]) -> None:
    url, home = server
    status, error = call(url, "GET", "/taskbook/api/inputs/nope")
    assert status == 404 and "taskbook approvals ls" in error["message"]
    request_id = pending_request(home, SCHEMA)
    status, error = call(url, "POST", f"/taskbook/api/inputs/{request_id}/reject", ["x"])
    assert status == 400 and "JSON object" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/taskbook/api/inputs?status=bogus", None),
        ("GET", "/taskbook/api/runs?since=", None),
        ("POST", "/taskbook/api/deployments", {"notebook": "a\u0000b.ipynb", "name": "x"}),
    ],
)
def test_bad_input_is_a_400_not_a_500(
    server: tuple[str, Path], method: str, path: str, body: Any
) -> None:
    url, _ = server
    status, error = call(url, method, path, body)
    assert status == 400, error


@pytest.mark.parametrize(
    "path", ["/runs/abc/resume", "/inputs/abc/answer", "/inputs/abc/reject", "/deployments/x/runs"]
)
def test_a_body_that_is_not_utf8_is_a_400(server: tuple[str, Path], path: str) -> None:
    url, _ = server
    request = urllib.request.Request(url + API + path, data=b"\xff", method="POST")
    request.add_header("Authorization", f"token {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, answer = error.code, json.loads(error.read())
    assert status == 400, answer
    assert answer["message"] == "The request body is not UTF-8 JSON."


def test_an_odd_id_gets_a_json_404(server: tuple[str, Path]) -> None:
    url, _ = server
    status, error = call(url, "GET", "/taskbook/api/runs/a%20b.c")
    assert status == 404 and error["error"] == "RunNotFound"
