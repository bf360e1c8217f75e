"""RunGraph with real flows: live updates, the store, the side panel, static outputs."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from kernel_ext import flow, get_run_logger, task
from kernel_ext._events import bus
from kernel_ext._run_records import FlowRun
from tests.kernel_ext.widgets.conftest import Sent

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

from kernel_ext.widgets import RunGraph


@task
def inc(x: int) -> int:
    return x + 1


@task
def slow_inc(x: int) -> int:
    time.sleep(0.02)
    return x + 1


@task
def total(xs: list[int]) -> int:
    get_run_logger().info("adding %d numbers", len(xs))
    return sum(xs)


@task
def explode() -> None:
    raise ValueError("the answer is not 41")


@flow
def mapped(n: int) -> int:
    return total(inc.map(range(n)))


@flow
def slow(n: int) -> int:
    return total(slow_inc.map(range(n)))


@flow
def failing() -> None:
    explode()


class Recorder:
    """Records every graph a widget was sent, with the thread that sent it."""

    def __init__(self, widget: RunGraph) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.threads: list[str] = []
        widget.observe(self._record, names="graph")

    def _record(self, change: dict[str, Any]) -> None:
        self.payloads.append(change["new"])
        self.threads.append(threading.current_thread().name)


def test_a_live_graph_is_final_when_the_flow_returns(store: Any) -> None:
    graph = RunGraph.for_next_flow_run()
    recorder = Recorder(graph)
    assert mapped(500) == sum(range(1, 501))
    payload = graph.graph  # no waiting: the final push happens as the flow run ends
    assert payload["final"] is True
    assert payload["run"]["state"] == "Completed"
    assert payload["task_runs"] == 501
    group, reduce = payload["nodes"]
    assert (group["name"], group["kind"]) == ("inc", "group")
    assert (group["count"], group["done"]) == (500, 500)
    assert reduce["name"] == "total-0"
    assert payload["edges"] == [(group["id"], reduce["id"])]
    assert recorder.threads[-1] == "MainThread"  # inside the cell that ran the flow


def test_live_updates_are_throttled_and_stop_at_the_end(store: Any) -> None:
    subscribers = len(bus._subscribers)
    graph = RunGraph.for_next_flow_run(interval=0.1)
    recorder = Recorder(graph)
    started = time.perf_counter()
    slow(40)
    elapsed = time.perf_counter() - started
    assert len(recorder.payloads) <= elapsed / 0.1 + 2
    assert any(p["run"] and p["run"]["state"] == "Running" for p in recorder.payloads[:-1])
    assert recorder.payloads[-1]["final"]
    assert len(bus._subscribers) == subscribers  # unsubscribed
    feed = graph._feed
    assert feed is not None and feed.closed
    feed._thread.join(1)
    assert not feed._thread.is_alive()


def test_following_a_flow_run_by_its_object(store: Any) -> None:
    graphs: list[RunGraph] = []

    @flow
    def watched() -> int:
        from kernel_ext._context import flow_run_context

        context = flow_run_context.get()
        assert context is not None
        graphs.append(RunGraph.for_flow_run(context.flow_run))
        return total([inc(1), inc(2)])

    other = RunGraph.for_next_flow_run()
    watched()
    (graph,) = graphs
    assert graph.graph["final"] and graph.graph["run"]["flow_name"] == "watched"
    assert [n["name"] for n in graph.graph["nodes"]] == ["inc-0", "inc-1", "total-0"]
    assert graph.graph == other.graph


def test_following_a_finished_flow_run_object_draws_it_at_once(store: Any) -> None:
    finished: list[FlowRun] = []

    @flow(on_completion=[lambda _flow, run, _state: finished.append(run)])
    def quick() -> int:
        return inc(1)

    quick()
    graph = RunGraph.for_flow_run(finished[0])
    assert graph.graph["final"] is True
    assert [n["name"] for n in graph.graph["nodes"]] == ["inc-0"]


def test_following_a_finished_flow_run_by_id_reads_the_store(store: Any) -> None:
    state = mapped(30, return_state=True)
    run_id = store.list_flow_runs(limit=1)[0]["id"]
    graph = RunGraph.for_flow_run(run_id)
    assert graph.graph["final"] is True
    assert graph.graph["run"]["state"] == state.name
    assert graph._feed is not None and graph._feed.closed


def test_a_past_run_from_the_store_matches_the_live_graph(store: Any) -> None:
    live = RunGraph.for_next_flow_run()
    mapped(30)
    past = RunGraph.from_store(live.graph["run"]["id"])
    strip = lambda p: [{k: v for k, v in n.items() if k != "duration"} for n in p["nodes"]]  # noqa: E731
    assert strip(past.graph) == strip(live.graph)
    assert [tuple(e) for e in past.graph["edges"]] == [tuple(e) for e in live.graph["edges"]]
    assert past.graph["final"] is True


def test_closing_the_widget_stops_following(store: Any) -> None:
    subscribers = len(bus._subscribers)
    graph = RunGraph.for_next_flow_run()
    graph.close()
    assert len(bus._subscribers) == subscribers
    mapped(3)
    assert graph.graph["run"] is None


def test_the_details_of_a_failed_run_carry_its_traceback(store: Any, sent: Sent) -> None:
    graph = RunGraph.for_next_flow_run()
    failing(return_state=True)
    (node,) = graph.graph["nodes"]
    graph.send = sent
    graph._handle_custom_msg({"type": "details", "task_run_id": node["id"]}, [])
    (reply,) = sent.messages
    assert reply["type"] == "details" and reply["error"] is None
    details = reply["details"]
    assert details["run"]["name"] == "explode-0"
    assert [s["name"] for s in details["history"]] == ["Pending", "Running", "Failed"]
    assert details["error"]["exception_type"] == "ValueError"
    assert "the answer is not 41" in details["error"]["traceback"]
    assert "Traceback (most recent call last)" in details["error"]["traceback"]


def test_the_details_of_a_run_list_its_logs_and_upstream(store: Any, sent: Sent) -> None:
    graph = RunGraph.for_next_flow_run()
    mapped(60)
    reduce = graph.graph["nodes"][-1]
    graph.send = sent
    graph._handle_custom_msg({"type": "details", "task_run_id": reduce["id"]}, [])
    details = sent.messages[0]["details"]
    assert [line["message"] for line in details["logs"]] == ["adding 60 numbers"]
    assert details["upstream_omitted"] == 10
    assert [u["name"] for u in details["upstream"][:2]] == ["inc-0", "inc-1"]
    assert details["error"] is None


def test_details_of_an_unknown_run_is_an_error_reply(store: Any, sent: Sent) -> None:
    graph = RunGraph()
    graph.send = sent
    graph._handle_custom_msg({"type": "details", "task_run_id": "nope"}, [])
    graph._handle_custom_msg({"type": "details"}, [])
    graph._handle_custom_msg({"type": "something else"}, [])
    first, second = sent.messages
    assert first["details"] is None and "No task run has the id 'nope'" in first["error"]
    assert second["details"] is None and second["error"]


def test_the_static_outputs_show_the_final_graph(store: Any) -> None:
    graph = RunGraph.for_next_flow_run()
    mapped(25)
    data, _ = graph._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == graph.model_id
    svg = ET.fromstring(data["image/svg+xml"])
    texts = [t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "inc \N{MULTIPLICATION SIGN}25" in texts
    assert any(t.startswith("Completed  ·  25/25") for t in texts)
    assert data["text/plain"].startswith("RunGraph: flow run ")
    assert "26 task runs (26 Completed)" in data["text/plain"]


def test_a_displayed_live_graph_replaces_its_static_output_at_the_end(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    shown: list[tuple[str, dict[str, Any], str]] = []
    for name in ("display", "update_display"):
        monkeypatch.setattr(
            IPython.display,
            name,
            lambda data, *, metadata, raw, display_id, name=name: shown.append(
                (name, data, display_id)
            ),
        )
    graph = RunGraph.for_next_flow_run()
    graph._ipython_display_()
    mapped(3)
    (first, *_, last) = shown
    assert (first[0], last[0]) == ("display", "update_display")
    assert first[2] == last[2]
    assert "Waiting for" in first[1]["image/svg+xml"]
    assert "total-0" in last[1]["image/svg+xml"]


class Big:
    """A result the widget must not keep alive once the run has ended."""


def test_a_finished_graph_keeps_no_results_alive(store: Any) -> None:
    import gc
    import weakref

    refs: list[weakref.ref[Big]] = []

    @task
    def make(i: int) -> Big:
        value = Big()
        refs.append(weakref.ref(value))
        return value

    @flow
    def makes() -> None:
        make.map(range(30)).wait()

    graph = RunGraph.for_next_flow_run()
    makes()
    gc.collect()
    assert graph.graph["final"] and graph.graph["nodes"][0]["count"] == 30
    assert len(refs) == 30 and all(ref() is None for ref in refs)
