"""Spans from state events: one span per flow run and task run, parented like the runs.

``RunTracer`` subscribes to the engine's event bus. Its subscriber runs on the engine's
thread, so it only appends the event to a deque (and, for the rare flow run event, keeps
the OpenTelemetry context the run was called in); a daemon thread turns the queued events
into spans every ``INTERVAL`` seconds. Span and event times are the states' own
timestamps, so the delay changes nothing in the trace, and the batch span processor
exports off the engine's thread as well.

A span opens at a run's first state and ends at its final one. Each state is an event
named after it (``Running``, ``Cached``, ``AwaitingRetry``...); Failed and Crashed set
the status ERROR (with the exception recorded when the state holds one), Completed sets
OK, as Prefect's own spans do. Parents: a task run's span is under its flow run's; a
subflow's under the task run that called it (the node the parent's graph shows); a
top-level flow run's under the span current where it was called, else under the
``TRACEPARENT`` of the deployment run this kernel executes (see ``papermill_bridge``),
else it is a trace's root.

This module imports OpenTelemetry: ``kernel_ext.tracing`` loads it only when tracing is
enabled.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kernel_ext import __version__
from kernel_ext._events import Event, StateEvent
from kernel_ext._run_records import FlowRun, TaskRun
from kernel_ext._states import FAILED_TYPES, FINAL_TYPES, State, StateType

__all__ = ["INTERVAL", "RunTracer"]

INTERVAL = 0.2
_KEEP_ENDED = 10_000  # ended spans remembered, so a late child still finds its parent
_DEPLOYMENT_RUN_ENV = "TASKBOOK_FLOW_RUN_ID"

_log = logging.getLogger("taskbook.tracing")

Attributes = Mapping[str, Any]


def _ns(seconds: float) -> int:
    """Epoch nanoseconds, at the microseconds the store keeps (a float's nanoseconds are
    noise at this magnitude), so a span's times are its states' times as stored."""
    return round(seconds * 1_000_000) * 1000


class _OpenSpan:
    """A span not ended yet, with the time of its run's latest state."""

    __slots__ = ("last", "span")

    def __init__(self, span: Span, last: float) -> None:
        self.span = span
        self.last = last


class RunTracer:
    """Owns the spans of this process's runs: the bus subscriber, the thread that makes
    the spans, and the spans still open."""

    def __init__(self, provider: TracerProvider, owns_provider: bool) -> None:
        self.provider = provider
        self.owns_provider = owns_provider
        self._tracer = provider.get_tracer("taskbook", __version__)
        self._events: deque[tuple[FlowRun | TaskRun, State, Attributes | None]] = deque()
        self._callers: dict[str, Context] = {}  # top-level flow run id -> where it was called
        self._open: dict[str, _OpenSpan] = {}
        self._ended: OrderedDict[str, SpanContext] = OrderedDict()
        self._lock = threading.Lock()  # one drain at a time: the thread's or a flush's
        self._wake = threading.Event()
        self._stopping = False
        self._thread = self._start_thread()

    # --- the engine's side: cheap -------------------------------------------------------

    def subscriber(self) -> Callable[[Event], None]:
        """The bus subscriber: one type check for other events, an append for states."""
        append = self._events.append
        callers = self._callers

        def on_event(event: Event) -> None:
            if type(event) is StateEvent:
                run = event.run
                if type(run) is FlowRun and run.id not in callers:  # once per flow run
                    callers[run.id] = otel_context.get_current()
                append((run, event.state, None))

        return on_event

    def observe(self, run: FlowRun | TaskRun, state: State, attributes: Attributes) -> None:
        """Queue a state of a run that the engine of this process does not move (a
        deployment run its executor follows), with ``attributes`` for its span."""
        self._events.append((run, state, attributes))

    # --- the thread's side -------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Turn every queued event into spans now, then export what the provider holds;
        False if the export did not finish within ``timeout`` seconds."""
        self._drain()
        force_flush = getattr(self.provider, "force_flush", None)  # the SDK's; not the API's
        return True if force_flush is None else bool(force_flush(int(timeout * 1000)))

    def traceparent(self, run_id: str) -> str | None:
        """The W3C ``traceparent`` of run ``run_id``'s span (after a flush), to hand a
        child process so its spans join the trace."""
        self._drain()
        found = self._open.get(run_id)
        span_context = found.span.get_span_context() if found else self._ended.get(run_id)
        if span_context is None or not span_context.is_valid:
            return None
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(
            carrier, trace.set_span_in_context(trace.NonRecordingSpan(span_context))
        )
        return carrier.get("traceparent")

    def close(self, end_open: bool) -> None:
        """Stop the thread after a last drain; with ``end_open``, end the spans of runs
        that have not ended in this process (a headless run that suspended, a process
        that exits mid-run) at their latest state, marked unfinished."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        self._drain()
        if end_open:
            self._end_open_spans()

    def after_fork_in_child(self) -> None:
        """A forked child has no drain thread and must not end its parent's spans."""
        self._lock = threading.Lock()
        self._events.clear()
        self._callers.clear()
        self._open.clear()
        self._wake = threading.Event()
        self._thread = self._start_thread()

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="taskbook-tracing", daemon=True)
        thread.start()
        return thread

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(INTERVAL)
            try:
                self._drain()
            except Exception:  # a broken exporter or attribute must never stop the traces
                _log.exception("[taskbook] could not record a span")

    def _drain(self) -> None:
        with self._lock:
            events = self._events
            while events:
                run, state, attributes = events.popleft()
                self._record(run, state, attributes)

    def _record(self, run: FlowRun | TaskRun, state: State, attributes: Attributes | None) -> None:
        found = self._open.get(run.id)
        if found is None:
            if run.id in self._ended:
                return  # a state re-announced after the end (a remote run read back)
            found = self._open[run.id] = _OpenSpan(self._start(run, state, attributes), 0.0)
        span = found.span
        found.last = state.timestamp
        event: dict[str, Any] = {"taskbook.state.type": state.type.value}
        if state.message:
            event["taskbook.state.message"] = state.message
        span.add_event(state.name, event, timestamp=_ns(state.timestamp))
        if state.type in FAILED_TYPES:
            span.set_status(Status(StatusCode.ERROR, state.message))
            if isinstance(state.data, BaseException):
                span.record_exception(state.data, timestamp=_ns(state.timestamp), escaped=True)
        elif state.type is StateType.COMPLETED:
            span.set_status(Status(StatusCode.OK))
        if state.type in FINAL_TYPES:
            self._end(run.id, span, state.timestamp)

    def _start(self, run: FlowRun | TaskRun, state: State, extra: Attributes | None) -> Span:
        attributes = {**_attributes(run), **(extra or {})}
        return self._tracer.start_span(
            run.name,
            context=self._parent(run),
            attributes=attributes,
            start_time=_ns(state.timestamp),
        )

    def _end(self, run_id: str, span: Span, at: float) -> None:
        span.end(end_time=_ns(at))
        del self._open[run_id]
        self._callers.pop(run_id, None)
        self._ended[run_id] = span.get_span_context()
        if len(self._ended) > _KEEP_ENDED:
            self._ended.popitem(last=False)

    def _parent(self, run: FlowRun | TaskRun) -> Context | None:
        """The context the run's span starts in (None: a new trace)."""
        parent_id = run.flow_run_id if isinstance(run, TaskRun) else run.parent_task_run_id
        if parent_id is not None:
            found = self._open.get(parent_id)
            span_context = found.span.get_span_context() if found else self._ended.get(parent_id)
            if span_context is not None:
                return trace.set_span_in_context(trace.NonRecordingSpan(span_context))
            return _deployment_run_context(parent_id)
        caller = self._callers.get(run.id)
        if caller is not None and trace.get_current_span(caller).get_span_context().is_valid:
            return caller
        return None

    def _end_open_spans(self) -> None:
        with self._lock:
            for run_id, found in list(self._open.items()):
                found.span.set_attribute("taskbook.run.unfinished", True)
                self._end(run_id, found.span, found.last)


def _attributes(run: FlowRun | TaskRun) -> dict[str, Any]:
    """What a span says about its run (as Prefect's spans do, under ``taskbook.``)."""
    attributes: dict[str, Any] = {"taskbook.run.id": run.id, "taskbook.run.name": run.name}
    if type(run) is FlowRun:
        attributes["taskbook.run.type"] = "flow"
        attributes["taskbook.flow.name"] = run.flow_name
        if run.parent_task_run_id is not None:
            attributes["taskbook.parent_task_run.id"] = run.parent_task_run_id
    else:
        assert type(run) is TaskRun
        attributes["taskbook.run.type"] = "task"
        attributes["taskbook.task.key"] = run.task_key
        if run.flow_run_id is not None:
            attributes["taskbook.flow_run.id"] = run.flow_run_id
    if run.tags:
        attributes["taskbook.tags"] = list(run.tags)
    return attributes


def _deployment_run_context(flow_run_id: str) -> Context | None:
    """Where the spans of the deployment run this kernel executes go: under the span its
    executor opened, which it passed down in ``TRACEPARENT`` (OpenTelemetry's variable for
    a context handed to a child process)."""
    traceparent = os.environ.get("TRACEPARENT")
    if not traceparent or os.environ.get(_DEPLOYMENT_RUN_ENV) != flow_run_id:
        return None
    carrier = {"traceparent": traceparent, "tracestate": os.environ.get("TRACESTATE", "")}
    found = TraceContextTextMapPropagator().extract(carrier)
    return found if trace.get_current_span(found).get_span_context().is_valid else None
