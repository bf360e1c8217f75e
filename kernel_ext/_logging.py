"""Run logs: ``get_run_logger()`` and captured prints, stored per run.

Records of the ``taskbook`` logger hierarchy that carry a run id become ``LogEvent``s on
the event stream (so the store keeps them). The console shows INFO and above with the
run's name, like Prefect; ``TASKBOOK_LOGGING_LEVEL`` changes that. The values of the
secrets this process loaded are masked on the console here, and in the stored lines by
the store's writer (``kernel_ext._redaction``).
"""

from __future__ import annotations

import builtins
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from kernel_ext._context import current_flow_run, task_run_context
from kernel_ext._events import LogEvent, bus
from kernel_ext._redaction import redact

__all__ = [
    "PrintCapture",
    "RunLoggerAdapter",
    "disable_run_logger",
    "get_run_logger",
    "install_print_capture",
]

_setup_lock = threading.Lock()
_configured = False


class RunLoggerAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger bound to one flow run or task run."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class _EventHandler(logging.Handler):
    """Turns run-bound records into LogEvents on the bus."""

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        task_run_id = getattr(record, "task_run_id", None)
        if flow_run_id is None and task_run_id is None:
            return
        bus.emit(
            LogEvent(
                flow_run_id,
                task_run_id,
                record.levelno,
                record.name,
                record.getMessage(),
                record.created,
            )
        )


class _RunFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        label = getattr(record, "run_label", None)
        record.run_prefix = f"{label} - " if label else ""
        return redact(super().format(record))  # the stored line is masked by the store


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The console: stderr, as loggers do, except in a Jupyter kernel, where stderr is
    drawn as an error: there records below WARNING go to stdout and read as logs."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        # Looked up per record: a kernel replaces sys.stdout and sys.stderr.
        quiet = record.levelno < logging.WARNING and _in_kernel()
        self.stream = sys.stdout if quiet else sys.stderr
        super().emit(record)


def _in_kernel() -> bool:
    return "ipykernel" in sys.modules and type(sys.stdout).__name__ == "OutStream"


def _configure() -> None:
    global _configured
    with _setup_lock:
        if _configured:
            return
        logger = logging.getLogger("taskbook")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(_EventHandler(logging.DEBUG))
        console = _ConsoleHandler()
        console.setLevel(os.environ.get("TASKBOOK_LOGGING_LEVEL", "INFO").upper())
        console.setFormatter(
            _RunFormatter(
                "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_prefix)s%(message)s",
                "%H:%M:%S",
            )
        )
        logger.addHandler(console)
        _configured = True


def run_extra() -> dict[str, Any]:
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        run = task_ctx.task_run
        return {
            "flow_run_id": run.flow_run_id,
            "task_run_id": run.id,
            "run_label": f"Task run {run.name!r}",
        }
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        flow_run = flow_ctx.flow_run
        return {"flow_run_id": flow_run.id, "run_label": f"Flow run {flow_run.name!r}"}
    return {}


def get_run_logger(name: str | None = None) -> RunLoggerAdapter:
    """A logger for the current flow or task run; its records are stored with the run.

    Outside any run it raises ``MissingContextError``, as in Prefect, unless inside
    ``disable_run_logger()`` (for calling a task's ``.fn`` in a unit test), where it
    logs to the console.
    """
    _configure()
    extra = run_extra()
    if not extra and not _run_logger_disabled.get():
        from kernel_ext._errors import MissingContextError

        raise MissingContextError(
            "There is no active flow or task run: call get_run_logger() inside a @flow or "
            "@task, or wrap the call in `with disable_run_logger():`."
        )
    base = "taskbook.task_runs" if "task_run_id" in extra else "taskbook.flow_runs"
    return RunLoggerAdapter(logging.getLogger(f"{base}.{name}" if name else base), extra)


_run_logger_disabled: ContextVar[bool] = ContextVar("taskbook_run_logger_off", default=False)


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """Prefect's ``disable_run_logger``: outside runs, ``get_run_logger()`` gives a console
    logger instead of raising (for unit tests that call a task's ``.fn``)."""
    token = _run_logger_disabled.set(True)
    try:
        yield
    finally:
        _run_logger_disabled.reset(token)


def engine_logger() -> logging.Logger:
    _configure()
    return logging.getLogger("taskbook.engine")


_original_print = builtins.print


def _print(*args: Any, **kwargs: Any) -> None:
    _original_print(*args, **kwargs)
    target = kwargs.get("file")
    if target is not None and target is not sys.stdout:
        return
    task_ctx = task_run_context.get()
    flow_ctx = current_flow_run()
    capture = (
        task_ctx.log_prints
        if task_ctx is not None
        else (flow_ctx is not None and flow_ctx.log_prints)
    )
    if not capture:
        return
    message = (kwargs.get("sep") or " ").join(str(a) for a in args)
    extra = run_extra()
    bus.emit(
        LogEvent(
            extra.get("flow_run_id"),
            extra.get("task_run_id"),
            logging.INFO,
            "taskbook.prints",
            message,
            time.time(),
        )
    )


def install_print_capture() -> None:
    """Route ``print`` through the capture for the rest of the process (a kernel that
    belongs to one deployment run); outside runs that capture, it prints only."""
    PrintCapture(True).__enter__()


_capture_lock = threading.Lock()
_capture_users = [0]


class PrintCapture:
    """``print`` is routed through the capture while a run that logs its prints runs,
    and given back once the last such run ends (as Prefect scopes it to the run)."""

    __slots__ = ("_on",)

    def __init__(self, on: bool) -> None:
        self._on = on

    def __enter__(self) -> PrintCapture:
        if self._on:
            _configure()
            with _capture_lock:
                _capture_users[0] += 1
                builtins.print = _print
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._on:
            with _capture_lock:
                _capture_users[0] -= 1
                if _capture_users[0] == 0 and builtins.print is _print:
                    builtins.print = _original_print
