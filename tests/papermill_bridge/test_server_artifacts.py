"""Artifacts through the REST API of a real Jupyter server.

Every answer is checked against the OpenAPI document by ``call``. The flows run in this
process on the store the server reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.papermill_bridge.test_server_api import call, server
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["server"]  # the fixture, imported for pytest to find

pytestmark = pytest.mark.slow

Server = tuple[str, Path]
API = "/taskbook/api"


def flow_run_with_artifacts(home: Path) -> tuple[str, str]:
    """A flow that publishes a report twice (a key's history), a progress bar and a link,
    and a task that publishes a table: the flow run's id and the task run's."""
    from kernel_ext import flow, task
    from kernel_ext.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_progress_artifact,
        create_table_artifact,
        update_progress_artifact,
    )

    @task
    def regions() -> None:
        create_table_artifact([{"region": "eu", "revenue": 12.5}], key="by-region")

    @flow(name="weekly-report")
    def weekly_report() -> None:
        create_markdown_artifact("# Draft", key="api-report")
        progress = create_progress_artifact(0, key="api-progress", description="loading")
        regions()
        create_markdown_artifact("# Revenue\nUp 4%", key="api-report", description="final")
        create_link_artifact("https://example.com/dash", "Dashboard")
        update_progress_artifact(progress, 100)

    with shared_store(home) as store:
        weekly_report()
        store.flush()
        run = store.list_flow_runs(limit=1, name="weekly-report")[0]
        (task_run,) = store.list_task_runs(run["id"])
        return str(run["id"]), str(task_run["id"])


def test_a_runs_artifacts_in_the_order_they_were_made(server: Server) -> None:
    url, home = server
    run_id, task_run_id = flow_run_with_artifacts(home)
    status, listed = call(url, "GET", f"{API}/runs/{run_id}/artifacts")
    assert status == 200
    assert [(a["key"], a["type"]) for a in listed] == [
        ("api-report", "markdown"),
        ("api-progress", "progress"),
        ("by-region", "table"),
        ("api-report", "markdown"),
        (None, "markdown"),
    ]
    draft, progress, table, report, link = listed
    assert {a["flow_run_id"] for a in listed} == {run_id}
    assert table["task_run_id"] == task_run_id
    assert [a["task_run_id"] for a in (draft, progress, report, link)] == [None] * 4
    assert table["data"] == [{"region": "eu", "revenue": 12.5}]
    assert progress["data"] == 100 and progress["description"] == "loading"
    assert progress["updated"] > progress["created"]
    assert report["data"] == "# Revenue\nUp 4%" and report["description"] == "final"
    assert link["data"] == "[Dashboard](https://example.com/dash)"

    status, read = call(url, "GET", f"{API}/artifacts/{table['id']}")
    assert status == 200 and read == table


def test_the_latest_of_each_key_and_a_keys_history(server: Server) -> None:
    url, home = server
    run_id, _ = flow_run_with_artifacts(home)
    status, latest = call(url, "GET", f"{API}/artifacts?latest=true&limit=1000")
    assert status == 200
    keys = [a["key"] for a in latest]
    assert len(keys) == len(set(keys)) and None not in keys
    report = next(a for a in latest if a["key"] == "api-report")
    assert report["data"] == "# Revenue\nUp 4%" and report["flow_run_id"] == run_id

    status, history = call(url, "GET", f"{API}/artifacts?key=api-report")
    assert status == 200 and [a["data"] for a in history[:2]] == ["# Revenue\nUp 4%", "# Draft"]
    status, tables = call(url, "GET", f"{API}/artifacts?type=table&limit=1")
    assert status == 200 and [a["key"] for a in tables] == ["by-region"]


def test_unknown_runs_and_artifacts_are_404s(server: Server) -> None:
    url, _ = server
    status, error = call(url, "GET", f"{API}/runs/no-such-run/artifacts")
    assert status == 404 and error["error"] == "RunNotFound" and "no-such-run" in error["message"]
    status, error = call(url, "GET", f"{API}/artifacts/no-such-artifact")
    assert status == 404 and "taskbook artifacts ls" in error["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("type=chart", "type must be one of markdown, table, progress, image"),
        ("type=link", "type must be one of"),
        ("limit=0", "limit must be a whole number from 1 to 1000"),
        ("limit=1001", "limit must be"),
        ("limit=ten", "limit must be"),
        ("latest=yes", "latest must be true or false"),
    ],
)
def test_bad_queries_are_400s(server: Server, query: str, message: str) -> None:
    url, _ = server
    status, error = call(url, "GET", f"{API}/artifacts?{query}")
    assert status == 400 and message in error["message"], error


def test_unauthenticated_calls_are_refused(server: Server) -> None:
    url, _ = server
    for path in ("artifacts", "artifacts/x", "runs/x/artifacts"):
        status, _ = call(url, "GET", f"{API}/{path}", token=None)
        assert status == 403, path
