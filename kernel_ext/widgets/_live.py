"""Following a flow run's events live, off the engine's hot path.

The engine calls every bus subscriber on the thread that changed a state, thousands of
times a second when a task is mapped. So the subscriber appends the event to a deque and,
for the rare flow run event, checks whether the followed run just ended. A daemon thread
drains the deque at most every ``interval`` seconds, aggregates the graph and pushes it.
The final push happens on the engine's thread, as the flow run ends: inside the cell
that ran it, so papermill and nbclient record the finished graph in the notebook.

Task runs handed to other processes (Dask workers) announce themselves once
(``RunsSubmitted``); their states come from the store, where the workers write them,
re-read while any is unfinished (at most every ``_REMOTE_EVERY`` s, longer for big maps)
and once more for the final push.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from kernel_ext._events import Event, RunsSubmitted, StateEvent, bus
from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun
from kernel_ext._states import FINAL_TYPES
from kernel_ext.widgets._aggregate import build_payload, flow_summary
from kernel_ext.widgets._contract import FlowRunSummary, GraphPayload

__all__ = ["LiveFeed"]

_log = logging.getLogger("taskbook.widgets")

Push = Callable[[GraphPayload], None]
_TICK = 1.0  # seconds between redraws when only the durations changed
_REMOTE_EVERY = 1.0  # seconds between reads of remote task runs (per 10,000 of them)


class LiveFeed:
    """Collects the events of one flow run and pushes its aggregated graph.

    ``flow_run_id=None`` follows the next top-level flow run that starts in this process.
    The feed stops (unsubscribes, its thread ends) after the final push, or on ``close()``.
    """

    def __init__(self, push: Push, flow_run_id: str | None, interval: float = 0.25) -> None:
        self._push = push
        self.flow_run_id = None if flow_run_id is None else FlowRunId(flow_run_id)
        self._interval = interval
        self._events: deque[Event] = deque()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._flow_run: FlowRun | None = None
        self._seed_run: FlowRunSummary | None = None
        self._runs: dict[str, TaskRun] = {}  # the engine's own objects, read when drawing
        self._names: dict[str, str] = {}  # what is kept of them once the run has ended
        self._dirty = True
        self._pushed_at = 0.0
        self._remote: set[str] = set()  # ids of task runs that other processes execute
        self._remote_total = 0
        self._remote_read_at = 0.0
        self._unsubscribe = bus.subscribe(self._subscriber())
        self._thread = threading.Thread(target=self._loop, name="taskbook-run-graph", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._stopped.is_set()

    def seed(self, run: FlowRunSummary, task_runs: Iterable[TaskRun]) -> None:
        """Add what the store knew before we subscribed; live events take precedence."""
        with self._lock:
            self._seed_run = run
            for task_run in task_runs:
                self._runs.setdefault(task_run.id, task_run)
            self._dirty = True

    def attach(self, run: FlowRun) -> None:
        """Follow this live ``FlowRun`` object (its earlier events were missed)."""
        with self._lock:
            self._flow_run = run
            self._dirty = True

    def name_of(self, run_id: str) -> str | None:
        run = self._runs.get(run_id)
        return run.name if run is not None else self._names.get(run_id)

    def _subscriber(self) -> Callable[[Event], None]:
        append = self._events.append

        def on_event(event: Event) -> None:
            append(event)
            if type(event) is StateEvent and type(event.run) is FlowRun:  # rare
                self._on_flow_event(event)

        return on_event

    def _on_flow_event(self, event: StateEvent) -> None:
        run = event.run
        assert type(run) is FlowRun
        if self.flow_run_id is None and run.parent_task_run_id is None:
            self.flow_run_id = run.id  # adopt the first top-level flow run to start
        if run.id == self.flow_run_id and event.state.type in FINAL_TYPES:
            try:
                self.push(final=True)
            except Exception:  # a broken widget must never break the run it draws
                _log.exception("[taskbook] could not draw the final graph of %s", run.name)

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.push()
            except Exception:
                _log.exception("[taskbook] the live run graph stopped updating")
                self.close()

    def push(self, final: bool = False) -> None:
        """Drain the queued events and push the graph, if anything changed."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._drain()
            now = time.monotonic()
            self._read_remote(now, final)
            if not (self._dirty or final or self._ticking(now)):
                return
            payload = self._payload(final)
            self._dirty, self._pushed_at = False, now
            if final:
                self._stop()
            self._push(payload)

    def close(self) -> None:
        """Stop following the run, without a final push."""
        with self._lock:
            if not self._stopped.is_set():
                self._stop()

    def _stop(self) -> None:
        self._stopped.set()
        self._unsubscribe()
        self._events.clear()
        # Let go of the engine's objects (and the results their states hold); keep names.
        self._names = {run_id: run.name for run_id, run in self._runs.items()}
        self._runs = {}
        self._flow_run = None

    def _drain(self) -> None:
        events, target, runs = self._events, self.flow_run_id, self._runs
        popleft, changed = events.popleft, False
        for _ in range(len(events)):  # only what is queued now: the engine keeps appending
            try:
                event = popleft()
            except IndexError:  # cleared by a close() on another thread meanwhile
                break
            if type(event) is RunsSubmitted:
                changed = self._add_remote(event.runs) or changed
                continue
            if type(event) is not StateEvent:
                continue
            run = event.run
            if type(run) is TaskRun:
                if run.flow_run_id == target:
                    runs[run.id] = run
                    changed = True
                    if event.state.type in FINAL_TYPES:  # the driver ended it (Crashed)
                        self._remote.discard(run.id)
            elif run.id == target and type(run) is FlowRun:
                self._flow_run = run
                changed = True
        self._dirty = self._dirty or changed

    def _add_remote(self, submitted: tuple[TaskRun, ...]) -> bool:
        added = False
        for run in submitted:
            if run.flow_run_id == self.flow_run_id:
                self._runs.setdefault(run.id, run)
                self._remote.add(run.id)
                self._remote_total += 1
                added = True
        return added

    def _read_remote(self, now: float, final: bool) -> None:
        """Refresh the remote task runs from the store (their workers write there)."""
        if not self._remote or self.flow_run_id is None:
            return
        # Paced by the size of the whole map (a read returns all of its runs).
        every = _REMOTE_EVERY * max(1.0, self._remote_total / 10_000)
        if not final and now - self._remote_read_at < every:
            return
        self._remote_read_at = now
        from kernel_ext.store import get_store
        from kernel_ext.widgets._aggregate import task_run_of_record

        finished = set()
        try:
            records = get_store().list_task_runs(self.flow_run_id)
        except Exception:  # a store blip: draw what is known, read again next time
            _log.exception("[taskbook] could not read the task runs of %s", self.flow_run_id)
            return
        for record in records:
            if record["id"] in self._remote:
                run = self._runs[record["id"]] = task_run_of_record(record)
                self._dirty = True
                if run.state is not None and run.state.is_final():
                    finished.add(run.id)
        self._remote -= finished  # final: no need to read them again

    def _ticking(self, now: float) -> bool:
        """Durations grow while the flow run is running: redraw now and then for them."""
        run = self._flow_run
        running = run is not None and run.state is not None and run.state.is_running()
        return running and now - self._pushed_at >= _TICK

    def _payload(self, final: bool) -> GraphPayload:
        now = time.time()
        summary = flow_summary(self._flow_run, now) if self._flow_run else self._seed_run
        return build_payload(summary, list(self._runs.values()), now, final)
