"""``GET runs/{id}/graph``: the aggregated graph the notebook's ``RunGraph`` draws.

Every answer is checked against the OpenAPI document by ``call``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.papermill_bridge.test_server_api import call, server
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["flow_run_with_edges", "server"]  # server: the fixture, for pytest to find

pytestmark = pytest.mark.slow

Server = tuple[str, Path]


def flow_run_with_edges(home: Path) -> str:
    """A Completed flow run of ``load -> square (x3, mapped) -> total``, with a log line."""
    from kernel_ext import flow, get_run_logger, task

    @task
    def load() -> list[int]:
        return [1, 2, 3]

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    @flow(name="pipeline")
    def pipeline() -> int:
        get_run_logger().info("summing the squares")
        items = load.submit()
        squares = [square.submit(x, wait_for=[items]) for x in (1, 2, 3)]
        return int(total.submit(squares).result())

    with shared_store(home) as store:
        assert pipeline() == 14
        store.flush()
        return str(store.list_flow_runs(limit=1, name="pipeline")[0]["id"])


def test_the_graph_of_a_run_is_the_widgets_payload(server: Server) -> None:
    url, home = server
    run_id = flow_run_with_edges(home)
    status, graph = call(url, "GET", f"/taskbook/api/runs/{run_id}/graph")
    assert status == 200, graph
    assert graph["run"]["id"] == run_id and graph["run"]["state"] == "Completed"
    assert graph["final"] is True and graph["task_runs"] == 5 and graph["hidden"] == 0
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    assert sorted(n.rsplit("-", 1)[0] for n in names.values()) == [
        "load",
        "square",
        "square",
        "square",
        "total",
    ]
    edges = {(names[a].rsplit("-", 1)[0], names[b].rsplit("-", 1)[0]) for a, b in graph["edges"]}
    assert edges == {("load", "square"), ("square", "total")}

    with shared_store(home):
        from kernel_ext.widgets._graph import RunGraph

        widget = RunGraph.from_store(run_id)
        expected = dict(widget.graph)
        widget.close()
    assert graph == json.loads(json.dumps(expected))  # the edges' tuples as arrays


def test_the_graph_of_an_unknown_run(server: Server) -> None:
    url, _ = server
    status, error = call(url, "GET", "/taskbook/api/runs/nope/graph")
    assert status == 404 and "nope" in error["message"]
