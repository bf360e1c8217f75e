"""OpenTelemetry traces of runs (the optional extra ``pip install 'taskbook[otel]'``).

Every flow run and task run of a process becomes a span, parented like the runs, with
its states as span events (see ``kernel_ext._tracing``). A process turns tracing on when
it opens the store, if ``TASKBOOK_OTEL=1``, or if ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set and the SDK is installed; ``TASKBOOK_OTEL=0``
or OpenTelemetry's ``OTEL_SDK_DISABLED=true`` keep it off. The spans are exported by a
batch span processor to the OTLP exporter that OpenTelemetry's own variables configure
(``OTEL_EXPORTER_OTLP_*``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``; ``OTEL_TRACES_EXPORTER=console`` prints them).
With none of these set, nothing of OpenTelemetry is imported.

    from opentelemetry.sdk.trace import TracerProvider
    from kernel_ext import tracing

    tracing.enable(TracerProvider(...))   # spans go to this provider (tests, an app's own)
    my_flow()
    tracing.flush()                       # spans of the runs so far are exported
    tracing.disable()
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_ext._run_records import FlowRun, TaskRun
    from kernel_ext._states import State
    from kernel_ext._tracing import RunTracer

__all__ = [
    "ENV",
    "disable",
    "enable",
    "enable_from_environment",
    "enabled",
    "flush",
    "observe",
    "traceparent",
]

ENV = "TASKBOOK_OTEL"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_INSTALL = "install it with `pip install 'taskbook[otel]'`"

_log = logging.getLogger("taskbook.tracing")
_lock = threading.Lock()
_tracer: RunTracer | None = None
_unsubscribe: Any = None
_checked = False
_hooks_installed = False


def enable(tracer_provider: Any = None) -> None:
    """Trace this process's runs to ``tracer_provider`` (an OpenTelemetry
    ``TracerProvider``), or, by default, to one configured by OpenTelemetry's
    environment variables. Replaces the provider of an earlier ``enable``."""
    global _tracer, _unsubscribe
    from kernel_ext._events import bus
    from kernel_ext._tracing import RunTracer

    with _lock:
        _stop()
        owns = tracer_provider is None
        provider = _provider_from_environment() if owns else tracer_provider
        _tracer = RunTracer(provider, owns_provider=owns)
        _unsubscribe = bus.subscribe(_tracer.subscriber())
        _install_hooks()


def disable() -> None:
    """Stop tracing: the spans of runs that ended are exported, open ones are dropped."""
    with _lock:
        _stop()


def enabled() -> bool:
    """Whether this process traces its runs."""
    return _tracer is not None


def flush(timeout: float = 30.0) -> bool:
    """Make the spans of every state so far and export them; False on a timeout."""
    tracer = _tracer
    return True if tracer is None else tracer.flush(timeout)


def observe(run: FlowRun | TaskRun, state: State, **attributes: Any) -> None:
    """Record ``state`` of ``run`` as the engine would, for a run this process follows
    without running it (a deployment run's executor); ``attributes`` go on its span."""
    tracer = _tracer
    if tracer is not None:
        tracer.observe(run, state, attributes)


def traceparent(run_id: str) -> str | None:
    """The W3C ``traceparent`` of ``run_id``'s span, for a child process's spans to join
    the trace (None when tracing is off or the run has no span here)."""
    tracer = _tracer
    return None if tracer is None else tracer.traceparent(run_id)


def enable_from_environment() -> None:
    """Enable tracing once per process if the environment asks for it (see the module's
    docstring). Cheap after the first call: the store calls it whenever it opens."""
    global _checked
    if _checked:
        return
    _checked = True
    if _wanted() and _tracer is None:
        try:
            enable()
        except Exception as error:  # tracing must never stop a run
            _log.warning("[taskbook] OpenTelemetry tracing is off: %s", error)


def _wanted() -> bool:
    setting = os.environ.get(ENV, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    asked = bool(setting)
    if not asked and not any(os.environ.get(name) for name in _ENDPOINTS):
        return False
    if not _importable("opentelemetry.sdk"):
        if asked:
            _log.warning(
                "[taskbook] %s=%s but the OpenTelemetry SDK is missing: %s.", ENV, setting, _INSTALL
            )
        return False
    return True


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _provider_from_environment() -> Any:
    """A ``TracerProvider`` with a batch span processor and the exporter that
    ``OTEL_TRACES_EXPORTER`` names (``otlp`` by default); the SDK reads the rest of its
    settings (sampler, limits, batch sizes, endpoint, headers) from the environment."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(_default_service_name()))
    exporter = _exporter(os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower())
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _default_service_name() -> dict[str, str]:
    """``service.name`` "taskbook" unless the environment names the service."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return {} if named else {"service.name": "taskbook"}


def _exporter(name: str) -> Any:
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none"
        )
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    ).strip()
    package = "opentelemetry.exporter.otlp.proto." + ("grpc" if protocol == "grpc" else "http")
    if not _importable(package):
        if protocol == "grpc":
            raise ValueError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc "
                "(or use http/protobuf, which `taskbook[otel]` installs)"
            )
        raise ValueError(f"the OTLP exporter is missing: {_INSTALL}")
    # It reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, ... itself.
    return importlib.import_module(f"{package}.trace_exporter").OTLPSpanExporter()


def _stop() -> None:
    """Unsubscribe and stop the current tracer (under ``_lock``)."""
    global _tracer, _unsubscribe
    tracer, _tracer = _tracer, None
    if _unsubscribe is not None:
        _unsubscribe()
        _unsubscribe = None
    if tracer is not None:
        tracer.close(end_open=False)
        tracer.flush()
        if tracer.owns_provider:  # ours, an SDK provider: its exporter's thread ends
            getattr(tracer.provider, "shutdown", lambda: None)()


def _install_hooks() -> None:
    global _hooks_installed
    if not _hooks_installed:
        # Registered after the provider's own exit hook, so it runs before it (LIFO).
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
        _hooks_installed = True


def _at_exit() -> None:
    """Spans of runs that did not end here (a suspended headless run) end at their last
    state, and everything is exported before the process goes."""
    tracer = _tracer
    if tracer is not None:
        tracer.close(end_open=True)
        tracer.flush()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    tracer = _tracer
    if tracer is not None:
        tracer.after_fork_in_child()
