"""OpenTelemetry traces of runs, checked with the SDK's in-memory exporter: one span per
flow run and task run, parented like the runs, the states as events in order, the error
status of failures, and the span times taken from the states."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from kernel_ext import flow, task, tracing
from kernel_ext.store import get_store


@pytest.fixture
def provider(home: Path) -> Iterator[TracerProvider]:
    """Runs traced to a provider of the test's own, with an in-memory exporter."""
    provider = TracerProvider()
    tracing.enable(provider)
    try:
        yield provider
    finally:
        tracing.disable()


@pytest.fixture
def spans(provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@task
def double(x: int) -> int:
    return 2 * x


@task(retries=1, retry_delay_seconds=0)
def boom() -> None:
    raise ValueError("boom")


@flow
def inner(n: int) -> int:
    return sum(double.map(range(n)).result())


@flow
def outer() -> str:
    inner(3)
    future = boom.submit()
    future.wait()
    return "done"


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert tracing.flush()
    return list(exporter.get_finished_spans())


def by_run(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {str(s.attributes["taskbook.run.id"]): s for s in spans if s.attributes}


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_spans_are_parented_like_the_runs(spans: InMemorySpanExporter) -> None:
    outer()
    found = finished(spans)
    store = get_store()
    (top,) = store.list_flow_runs(name="outer")
    detail = store.read_flow_run(top["id"])
    (sub,) = store.list_flow_runs(parent=top["id"])
    runs = by_run(found)
    assert len(found) == 1 + len(detail["task_runs"]) + 1 + 3  # outer, its task runs, inner, maps
    root = runs[top["id"]]
    assert root.parent is None and root.name == top["name"]
    assert {s.context.trace_id for s in found} == {root.context.trace_id}
    for task_run in detail["task_runs"]:
        assert parent_id(runs[task_run["id"]]) == root.context.span_id
    call = runs[str(sub["parent_task_run_id"])]  # the task run the subflow appears as
    assert parent_id(runs[sub["id"]]) == call.context.span_id
    for mapped in store.list_task_runs(sub["id"]):
        assert parent_id(runs[mapped["id"]]) == runs[sub["id"]].context.span_id
        assert runs[mapped["id"]].attributes["taskbook.run.type"] == "task"
    attributes = root.attributes or {}
    assert attributes["taskbook.run.type"] == "flow" and attributes["taskbook.flow.name"] == "outer"


def test_states_are_events_in_order_and_failures_are_errors(spans: InMemorySpanExporter) -> None:
    outer()
    runs = by_run(finished(spans))
    failed = next(s for s in runs.values() if s.name.startswith("boom"))
    names = [e.name for e in failed.events]
    assert names == ["Pending", "Running", "AwaitingRetry", "Retrying", "Failed", "exception"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ValueError: boom"
    failed_event = failed.events[4]
    assert failed_event.attributes == {
        "taskbook.state.type": "FAILED",
        "taskbook.state.message": "ValueError: boom",
    }
    assert failed.events[5].attributes["exception.type"] == "ValueError"  # type: ignore[index]
    completed = next(s for s in runs.values() if s.name.startswith("double"))
    assert [e.name for e in completed.events] == ["Pending", "Running", "Completed"]
    assert completed.status.status_code is StatusCode.OK


def test_span_times_are_the_states_times(spans: InMemorySpanExporter) -> None:
    inner(2)
    runs = by_run(finished(spans))
    store = get_store()
    (run,) = store.list_flow_runs(name="inner")
    for run_id, span in runs.items():
        history = store.read_history(run_id)  # type: ignore[arg-type]
        assert near(span.start_time, history[0]["timestamp"]), span.name
        assert near(span.end_time, history[-1]["timestamp"]), span.name
        assert len(span.events) == len(history)
        assert all(
            near(e.timestamp, h["timestamp"]) for e, h in zip(span.events, history, strict=True)
        )
    assert near(runs[run["id"]].end_time, run["end_time"])


def near(nanoseconds: int | None, iso: str | None) -> bool:
    """The same time, at the store's precision (a microsecond either way: rounding)."""
    from datetime import UTC, datetime, timedelta

    assert nanoseconds is not None and iso is not None
    since_epoch = datetime.fromisoformat(iso) - datetime(1970, 1, 1, tzinfo=UTC)
    return abs(nanoseconds // 1000 - since_epoch // timedelta(microseconds=1)) <= 1


def test_a_flow_called_inside_a_span_joins_its_trace(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("app", tracer_provider=provider)
    with tracer.start_as_current_span("request") as span:
        inner(1)
    found = [s for s in finished(spans) if s.attributes and "taskbook.run.type" in s.attributes]
    flow_span = next(s for s in found if s.attributes["taskbook.run.type"] == "flow")
    assert flow_span.context.trace_id == span.get_span_context().trace_id
    assert parent_id(flow_span) == span.get_span_context().span_id


def test_a_task_outside_any_flow_is_a_root_span(spans: InMemorySpanExporter) -> None:
    assert double(4) == 8
    (span,) = finished(spans)
    assert span.parent is None and "taskbook.flow_run.id" not in (span.attributes or {})


def test_off_by_default_and_without_importing_opentelemetry(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from kernel_ext import flow, tracing\n"
        "@flow\n"
        "def f(): return 1\n"
        "f()\n"
        "print(tracing.enabled(), any(m.startswith('opentelemetry') for m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TASKBOOK_"))}
    env["TASKBOOK_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_the_environment_turns_it_on_and_off(tmp_path: Path) -> None:
    code = (
        "from kernel_ext import flow, tracing\n"
        "@flow\n"
        "def f(): return 1\n"
        "f()\n"
        "print('enabled:', tracing.enabled())\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TASKBOOK_"))}
    base["TASKBOOK_HOME"] = str(tmp_path)
    base["OTEL_TRACES_EXPORTER"] = "console"
    cases = [({"TASKBOOK_OTEL": "1"}, "True"), ({"TASKBOOK_OTEL": "0"}, "False")]
    cases.append(({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, "True"))
    cases.append(({"TASKBOOK_OTEL": "1", "OTEL_SDK_DISABLED": "true"}, "False"))
    for extra, expected in cases:
        env = {**base, **extra}
        if "OTEL_EXPORTER_OTLP_ENDPOINT" in extra:
            env["OTEL_TRACES_EXPORTER"] = "none"  # nothing listens there
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        said = next(line for line in done.stdout.splitlines() if line.startswith("enabled:"))
        assert said == f"enabled: {expected}", (extra, done.stdout, done.stderr)
        if expected == "True" and env["OTEL_TRACES_EXPORTER"] == "console":
            assert '"taskbook.run.type": "flow"' in done.stdout  # exported at exit


def test_asked_for_without_the_sdk_says_how_to_install_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('opentelemetry'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from kernel_ext import flow, tracing\n"
        "@flow\n"
        "def f(): return 1\n"
        "print('result:', f(), tracing.enabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TASKBOOK_"))}
    env.update(TASKBOOK_HOME=str(tmp_path), TASKBOOK_OTEL="1")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "result: 1 False" in done.stdout
    assert "install it with `pip install 'taskbook[otel]'`" in done.stderr


def test_the_public_names_are_pinned() -> None:
    assert sorted(tracing.__all__) == [
        "ENV",
        "disable",
        "enable",
        "enable_from_environment",
        "enabled",
        "flush",
        "observe",
        "traceparent",
    ]
