"""A deployment run's trace, exported for real over OTLP/HTTP by the processes that run it:
the executor's span of the run, with the worker's states, and under it the spans of the
notebook's ``%%task`` cells that its kernel exported, in one trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from kernel_ext.testing import taskbook_test_harness
from tests.papermill_bridge.test_deployments import write_notebook

pytestmark = pytest.mark.slow


class Collector(ThreadingHTTPServer):
    """The smallest OTLP/HTTP trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[Any] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    self.server.spans.extend(scope.spans)
        body = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def attributes(span: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in span.attributes}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def test_a_deployment_run_is_one_trace(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from papermill_bridge import Worker, promote, start_run

    with taskbook_test_harness() as home:
        # The executor and its kernel read these: OpenTelemetry's own variables only.
        monkeypatch.setenv("TASKBOOK_HOME", str(home))
        monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
        monkeypatch.delenv("TASKBOOK_RESULTS_URL", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "nightly-etl")
        promote(write_notebook(Path(home)), "greet")
        run = start_run("greet", {})
        assert Worker().run_once()
        spans = _wait_for(collector, lambda found: len(found) >= 3)
    by_name = {span.name: span for span in spans}
    (deployment_run,) = [s for s in spans if attributes(s).get("taskbook.run.id") == run["id"]]
    assert attributes(deployment_run)["taskbook.deployment.name"] == "greet"
    assert [e.name for e in deployment_run.events] == ["Pending", "Running", "Completed"]
    for cell in ("shout-0", "count-0"):
        span = by_name[cell]
        assert span.trace_id == deployment_run.trace_id
        assert span.parent_span_id == deployment_run.span_id
        assert attributes(span)["taskbook.flow_run.id"] == run["id"]
        assert [e.name for e in span.events][-1] == "Completed"


def _wait_for(collector: Collector, enough: Any, timeout: float = 60.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with collector.lock:
            found = list(collector.spans)
        if enough(found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"the collector got {[s.name for s in found]}")
