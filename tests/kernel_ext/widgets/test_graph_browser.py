"""The bundled graph widget in headless Chromium, fed the payloads of real flow runs."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_ext import flow, task
from kernel_ext.widgets._details import reply_details
from tests.kernel_ext.widgets.browser import WidgetPage

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

from kernel_ext.widgets import RunGraph

pytestmark = pytest.mark.slow


@task
def load(i: int) -> int:
    return i


@task
def check(xs: list[int]) -> int:
    if len(xs) > 3:
        raise ValueError(f"{len(xs)} rows is too many")
    return len(xs)


@flow
def pipeline(n: int) -> None:
    rows = load.map(range(n))
    check.submit(rows).wait()


def graph_of_a_run(store: Any) -> tuple[dict[str, Any], RunGraph]:
    graph = RunGraph.for_next_flow_run()
    pipeline(300, return_state=True)
    return dict(graph.graph), graph


def test_the_graph_draws_groups_runs_and_edges(store: Any, widget_page: WidgetPage) -> None:
    payload, _ = graph_of_a_run(store)
    widget_page.mount("graph", {"graph": payload})
    page = widget_page.page
    page.wait_for_selector(".tb-node")
    names = page.locator(".tb-name").all_text_contents()
    assert names == ["load \N{MULTIPLICATION SIGN}300", "check-0"]
    details = page.locator(".tb-detail").all_text_contents()
    assert details[0].startswith("Completed \N{MIDDLE DOT} 300/300")
    assert details[1].startswith("Failed")
    assert page.locator(".tb-edges path").count() == 1
    assert page.locator(".tb-node.tb-s-failed").count() == 1
    header = page.locator(".tb-graph-header").inner_text()
    assert "pipeline /" in header and "301 task runs" in header and "Failed" in header
    assert widget_page.errors == []


def test_clicking_a_node_asks_the_kernel_and_shows_the_traceback(
    store: Any, widget_page: WidgetPage
) -> None:
    payload, graph = graph_of_a_run(store)
    widget_page.mount("graph", {"graph": payload})
    page = widget_page.page
    page.click(".tb-node.tb-s-failed")
    (request,) = page.evaluate("window.model.sent")
    failed = payload["nodes"][1]
    assert request == {"type": "details", "task_run_id": failed["id"]}
    assert page.locator(".tb-panel").is_visible()
    reply = reply_details(store, failed["id"], graph._name_of)
    page.evaluate("(reply) => window.model.emit('msg:custom', reply)", reply)
    panel = page.locator(".tb-panel")
    assert "300 rows is too many" in panel.locator(".tb-traceback").inner_text()
    assert "Traceback (most recent call last)" in panel.locator(".tb-traceback").inner_text()
    assert "Pending" in panel.locator(".tb-history").inner_text()
    assert "load-0, load-1" in panel.locator(".tb-io").inner_text()
    assert "and 250 more" in panel.locator(".tb-io").inner_text()
    assert widget_page.errors == []


def test_a_group_lists_its_runs_and_fetches_one(store: Any, widget_page: WidgetPage) -> None:
    payload, _ = graph_of_a_run(store)
    widget_page.mount("graph", {"graph": payload})
    page = widget_page.page
    page.click(".tb-kind-group")
    assert "300 runs of" in page.locator(".tb-panel").inner_text()
    page.locator(".tb-members button").first.click()
    (request,) = page.evaluate("window.model.sent")
    assert request == {"type": "details", "task_run_id": payload["nodes"][0]["members"][0]}
    page.click(".tb-close")
    assert not page.locator(".tb-panel").is_visible()


def test_live_updates_redraw_and_cleanup_unsubscribes(widget_page: WidgetPage) -> None:
    widget_page.mount(
        "graph",
        {
            "graph": {
                "run": None,
                "nodes": [],
                "edges": [],
                "task_runs": 0,
                "hidden": 0,
                "final": False,
            }
        },
    )
    page = widget_page.page
    assert "Waiting for the flow run" in page.locator(".tb-graph").inner_text()
    node = {
        "id": "a",
        "kind": "run",
        "name": "fetch-0",
        "task_key": "m.fetch",
        "state": "Running",
        "state_type": "RUNNING",
        "message": None,
        "duration": 1.5,
        "run_count": 2,
        "count": 1,
        "done": 0,
        "counts": {"Running": 1},
        "members": [],
    }
    run = {
        "id": "r",
        "name": "calm-otter",
        "flow_name": "etl",
        "state": "Running",
        "state_type": "RUNNING",
        "message": None,
        "duration": 2.0,
    }
    update = {"run": run, "nodes": [node], "edges": [], "task_runs": 1, "hidden": 0, "final": False}
    page.evaluate("(graph) => window.model.set('graph', graph)", update)
    page.wait_for_selector(".tb-node.tb-s-running")
    dot, times = "\N{MIDDLE DOT}", "\N{MULTIPLICATION SIGN}"
    assert page.locator(".tb-detail").text_content() == f"Running {dot} 1.5 s {dot} {times}2"
    node["state"], node["state_type"] = "Retrying", "RUNNING"
    page.evaluate("(graph) => window.model.set('graph', graph)", update)
    page.wait_for_selector(".tb-node.tb-s-retrying")
    assert page.evaluate("window.model.listeners()") == 2
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listeners()") == 0
    assert widget_page.errors == []


def test_nodes_answer_the_keyboard(store: Any, widget_page: WidgetPage) -> None:
    payload, _ = graph_of_a_run(store)
    widget_page.mount("graph", {"graph": payload})
    page = widget_page.page
    page.focus(".tb-node.tb-s-failed")
    page.keyboard.press("Enter")
    assert page.evaluate("window.model.sent") == [
        {"type": "details", "task_run_id": payload["nodes"][1]["id"]}
    ]
    page.wait_for_function("document.activeElement.classList.contains('tb-selected')")
