"""RunGraph's side panel: a task run's details carry its artifacts, bounded."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_ext import flow, task
from kernel_ext.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from kernel_ext.widgets._details import MAX_ARTIFACTS, MAX_TABLE_ROWS
from tests.kernel_ext.widgets.conftest import Sent

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

from kernel_ext.widgets import RunGraph


@task
def report() -> None:
    create_markdown_artifact("# Revenue\nUp **4%**", key="revenue", description="weekly")
    create_table_artifact({"region": ["eu", "us"], "revenue": [12.5, None]}, key="by-region")
    progress = create_progress_artifact(10, key="load")
    update_progress_artifact(progress, 75)
    create_link_artifact("https://example.com/dash", "Dashboard")


@task
def quiet() -> int:
    return 1


@task
def chatty(n: int) -> None:
    for i in range(n):
        create_markdown_artifact(f"step {i}", key="step")


@task
def huge() -> None:
    create_table_artifact([{"i": i, "text": "x" * 5000} for i in range(MAX_TABLE_ROWS + 30)])
    create_table_artifact({"i": list(range(MAX_TABLE_ROWS + 5))})
    create_table_artifact([[i, i * i] for i in range(MAX_TABLE_ROWS + 1)])
    create_markdown_artifact("y" * 50_000)
    create_image_artifact("data:image/png;base64," + "A" * 2_000_000)
    create_image_artifact("https://example.com/chart.png")


@flow
def reporting() -> None:
    report()
    quiet()


def details_of(graph: RunGraph, sent: Sent, name: str) -> dict[str, Any]:
    node = next(n for n in graph.graph["nodes"] if n["name"] == name)
    graph.send = sent
    graph._handle_custom_msg({"type": "details", "task_run_id": node["id"]}, [])
    reply = sent.messages[-1]
    assert reply["error"] is None, reply
    details: dict[str, Any] = reply["details"]
    return details


def test_the_details_of_a_task_run_carry_its_artifacts_in_order(store: Any, sent: Sent) -> None:
    graph = RunGraph.for_next_flow_run()
    reporting()
    details = details_of(graph, sent, "report-0")
    artifacts = details["artifacts"]
    assert [(a["key"], a["type"]) for a in artifacts] == [
        ("revenue", "markdown"),
        ("by-region", "table"),
        ("load", "progress"),
        (None, "markdown"),
    ]
    markdown, table, progress, link = artifacts
    assert markdown["data"] == "# Revenue\nUp **4%**" and markdown["description"] == "weekly"
    assert table["data"] == {"region": ["eu", "us"], "revenue": [12.5, None]}
    assert progress["data"] == 75.0 and progress["updated"] > progress["created"]
    assert link["data"] == "[Dashboard](https://example.com/dash)"
    assert {a["task_run_id"] for a in artifacts} == {details["run"]["id"]}
    assert {a["flow_run_id"] for a in artifacts} == {graph.graph["run"]["id"]}
    assert all(a["omitted"] == 0 for a in artifacts)
    assert details["more_artifacts"] is False

    assert details_of(graph, sent, "quiet-0")["artifacts"] == []


def test_a_task_run_with_many_artifacts_sends_its_newest(store: Any, sent: Sent) -> None:
    @flow
    def many() -> None:
        chatty(MAX_ARTIFACTS + 5)

    graph = RunGraph.for_next_flow_run()
    many()
    details = details_of(graph, sent, "chatty-0")
    assert details["more_artifacts"] is True
    assert [a["data"] for a in details["artifacts"]] == [
        f"step {i}" for i in range(5, MAX_ARTIFACTS + 5)
    ]


def test_big_artifacts_are_clipped_in_their_own_shape(store: Any, sent: Sent) -> None:
    @flow
    def big() -> None:
        huge()

    graph = RunGraph.for_next_flow_run()
    big()
    rows, columns, lists, markdown, data_url, web_url = details_of(graph, sent, "huge-0")[
        "artifacts"
    ]
    assert len(rows["data"]) == MAX_TABLE_ROWS and rows["omitted"] == 30
    assert rows["data"][0]["i"] == 0
    assert rows["data"][0]["text"].endswith("(4,000 characters left out)")
    assert len(columns["data"]["i"]) == MAX_TABLE_ROWS and columns["omitted"] == 5
    assert lists["data"][-1] == [MAX_TABLE_ROWS - 1, (MAX_TABLE_ROWS - 1) ** 2]
    assert lists["omitted"] == 1
    assert len(markdown["data"]) < 25_000 and "characters left out" in markdown["data"]
    assert markdown["omitted"] == 30_000
    assert data_url["data"] is None and data_url["omitted"] > 2_000_000
    assert web_url["data"] == "https://example.com/chart.png" and web_url["omitted"] == 0
