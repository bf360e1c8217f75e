"""``RunGraph``: one flow run drawn as a graph of its task runs, live or from the store.

    graph = RunGraph.for_next_flow_run()   # follows the next flow run started here
    graph                                  # display it, then call the flow
    RunGraph.for_flow_run(run_id)          # a run in progress (or finished)
    RunGraph.from_store(run_id)            # a past run, read once

The browser gets the aggregated graph (``graph`` trait, see ``_contract.GraphPayload``)
and asks for a task run's history, logs and traceback when a node is clicked. Outputs
that cannot run JavaScript show a static SVG of the same graph instead.
"""

from __future__ import annotations

import logging
import pathlib
import time
import uuid
from typing import Any, cast

import anywidget
import traitlets

from kernel_ext._errors import TaskbookError
from kernel_ext._run_records import FlowRun
from kernel_ext._states import FINAL_TYPE_VALUES
from kernel_ext.widgets._aggregate import (
    flow_summary,
    payload_from_store,
    task_run_of_record,
)
from kernel_ext.widgets._contract import GraphPayload
from kernel_ext.widgets._details import reply_details
from kernel_ext.widgets._live import LiveFeed
from kernel_ext.widgets._svg import format_duration, render_svg

__all__ = ["RunGraph"]

_STATIC = pathlib.Path(__file__).parent / "static"
_log = logging.getLogger("taskbook.widgets")

_EMPTY: GraphPayload = {
    "run": None,
    "nodes": [],
    "edges": [],
    "task_runs": 0,
    "hidden": 0,
    "final": False,
}


class RunGraph(anywidget.AnyWidget):
    """The graph of one flow run; keeps itself up to date while the run is live."""

    _esm = _STATIC / "graph.js"
    _css = _STATIC / "graph.css"

    graph = traitlets.Dict(default_value=dict(_EMPTY)).tag(sync=True)

    def __init__(self, graph: GraphPayload | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.graph = dict(graph or _EMPTY)
        self._feed: LiveFeed | None = None
        self._names: dict[str, str] = {}
        self._display_id: str | None = None
        self.on_msg(self._on_message)

    # --- constructors -----------------------------------------------------------------

    @classmethod
    def from_store(cls, flow_run_id: str) -> RunGraph:
        """The graph of a flow run as the store has it now (``RunNotFound`` if unknown)."""
        payload, task_runs = payload_from_store(flow_run_id)
        widget = cls(payload)
        widget._names = {run.id: run.name for run in task_runs}
        return widget

    @classmethod
    def for_flow_run(cls, flow_run: str | FlowRun, interval: float = 0.25) -> RunGraph:
        """Follow a flow run live, starting from what the store already knows of it.

        Live updates come from this process's engine: a run executing elsewhere (a
        worker) is drawn as the store has it, like ``from_store``. Pass the engine's
        ``FlowRun`` itself for a run of this process that is starting (still Pending):
        then the store is not read, as nothing can have happened yet.
        """
        widget = cls()
        if isinstance(flow_run, FlowRun):
            feed = widget._follow(flow_run.id, interval)
            feed.attach(flow_run)
            if flow_run.state is None or flow_run.state.is_pending():
                return widget
        else:
            feed = widget._follow(flow_run, interval)
        widget._seed_from_store(feed)
        return widget

    def _seed_from_store(self, feed: LiveFeed) -> None:
        # Subscribed first, read second: an event in between is in both, never in neither.
        from kernel_ext.store import get_store

        if feed.flow_run_id is None:
            return  # the next flow run: the events will bring everything
        try:
            store = get_store()
            store.flush(timeout=5)
            record = store.read_flow_run(feed.flow_run_id)
        except TaskbookError:
            return  # not stored yet: the events will bring everything
        feed.seed(flow_summary(record, time.time()), map(task_run_of_record, record["task_runs"]))
        if record["state_type"] in FINAL_TYPE_VALUES:
            feed.push(final=True)  # it ended before we subscribed

    @classmethod
    def for_next_flow_run(cls, interval: float = 0.25) -> RunGraph:
        """Follow the next top-level flow run that starts in this process."""
        widget = cls()
        widget._follow(None, interval)
        return widget

    def _follow(self, flow_run_id: str | None, interval: float) -> LiveFeed:
        self._feed = LiveFeed(self._update, flow_run_id, interval=interval)
        return self._feed

    # --- updates ----------------------------------------------------------------------

    def _update(self, payload: GraphPayload) -> None:
        """Called by the feed, from its thread or, for the final push, the engine's."""
        self.graph = dict(payload)
        if payload["final"] and self._display_id is not None:
            from IPython.display import update_display

            data, metadata = self._repr_mimebundle_()
            update_display(  # type: ignore[no-untyped-call]
                data, metadata=metadata, raw=True, display_id=self._display_id
            )

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
        super().close()

    def _name_of(self, run_id: str) -> str | None:
        if self._feed is not None:
            return self._feed.name_of(run_id)
        return self._names.get(run_id)

    def _on_message(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict) or content.get("type") != "details":
            _log.warning("[taskbook] RunGraph ignored a message it does not know: %r", content)
            return
        from kernel_ext.store import get_store

        run_id = content.get("task_run_id")
        try:
            reply: Any = reply_details(get_store(), run_id, self._name_of)
        except Exception as error:  # the panel shows it rather than spinning forever
            reply = {
                "type": "details",
                "task_run_id": str(run_id),
                "details": None,
                "error": f"{type(error).__name__}: {error}",
            }
        self.send(reply)

    # --- static outputs ---------------------------------------------------------------

    def _ipython_display_(self) -> None:
        # Displayed with an id, so the final push can replace the static SVG of a live
        # graph with the finished one in outputs that cannot run the widget.
        from IPython.display import display

        self._display_id = self._display_id or uuid.uuid4().hex
        data, metadata = self._repr_mimebundle_()
        display(data, metadata=metadata, raw=True, display_id=self._display_id)  # type: ignore[no-untyped-call]

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data, metadata = super()._repr_mimebundle_(**kwargs) or ({}, {})
        payload = cast(GraphPayload, self.graph)
        data["image/svg+xml"] = render_svg(payload)
        data["text/plain"] = describe(payload)
        return data, metadata


def describe(payload: GraphPayload) -> str:
    """One line for ``text/plain``: the run, its state and its task runs by state."""
    run = payload["run"]
    if run is None:
        return "RunGraph: waiting for a flow run to start"
    counts: dict[str, int] = {}
    for node in payload["nodes"]:
        for state, count in node["counts"].items():
            counts[state] = counts.get(state, 0) + count
    tally = ", ".join(f"{count:,} {state}" for state, count in counts.items())
    duration = f" in {format_duration(run['duration'])}" if run["duration"] is not None else ""
    return (
        f"RunGraph: flow run {run['name']!r} of {run['flow_name']!r} {run['state']}{duration}; "
        f"{payload['task_runs']:,} task runs" + (f" ({tally})" if tally else "")
    )
