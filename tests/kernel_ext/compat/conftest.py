"""Run the Prefect-compatibility suite against Taskbook or against real Prefect 3.

    COMPAT_FRAMEWORK=taskbook (default)   the names come from ``kernel_ext.compat``
    COMPAT_FRAMEWORK=prefect              the names come from ``prefect``

Every test in ``test_prefect_*.py`` is written against the ``pf`` fixture, so one test
states one Prefect behaviour and the Prefect run proves that it is Prefect's.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FRAMEWORK = os.environ.get("COMPAT_FRAMEWORK", "taskbook")

if FRAMEWORK == "prefect":
    # Prefect reads these when it is imported: set them before any test imports it.
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="compat-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = "prefect" if FRAMEWORK == "prefect" else "kernel_ext.compat"

# The submodules a test may reach as ``pf.<name>``; anything else is a top-level name.
SUBMODULES = frozenset(
    {
        "artifacts",
        "cache_policies",
        "context",
        "events",
        "exceptions",
        "flows",
        "futures",
        "logging",
        "results",
        "runtime",
        "serializers",
        "states",
        "task_runners",
        "tasks",
        "transactions",
    }
)


class Framework:
    """Prefect's public API as one framework provides it, imported on first use.

    ``pf.flow``, ``pf.task``, ``pf.State`` ... are the top-level names; ``pf.states``,
    ``pf.cache_policies`` ... the submodules; ``pf.module("utilities.annotations")``
    any deeper one.
    """

    def __init__(self, name: str, root: str) -> None:
        self.name = name
        self.root = root

    def module(self, dotted: str) -> ModuleType:
        return importlib.import_module(f"{self.root}.{dotted}")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr in SUBMODULES:
            return self.module(attr)
        return getattr(importlib.import_module(self.root), attr)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if FRAMEWORK != "prefect":
        return
    # Prefect's client leaves sockets to the garbage collector; under this project's
    # ``filterwarnings = error`` that would fail tests for Prefect's sake, not ours.
    here = Path(__file__).parent
    for item in (i for i in items if here in Path(str(i.path)).parents):
        item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
        item.add_marker(
            pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
        )


@pytest.fixture(scope="session")
def _framework_session() -> Iterator[None]:
    if FRAMEWORK != "prefect":
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # The heartbeat thread is joined at the end of every flow run: about 1 s each.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def pf(_framework_session: None) -> Iterator[Framework]:
    """The framework under test, with a fresh data directory for Taskbook."""
    framework = Framework(FRAMEWORK, ROOT)
    if FRAMEWORK == "prefect":
        yield framework
        return
    from kernel_ext.testing import taskbook_test_harness

    with taskbook_test_harness():
        yield framework


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, logger: str | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if logger is None or r.name == logger]


@pytest.fixture
def run_logs(pf: Framework) -> Iterator[_Records]:
    """Records logged to Prefect's run loggers, ``prefect.flow_runs`` and
    ``prefect.task_runs`` (a handler on each, so logger propagation does not matter)."""
    handler = _Records()
    if FRAMEWORK != "prefect":
        # Taskbook stores a run's log lines (logger calls and captured prints) as events
        # on its bus: the same picture, named as Prefect names its run loggers.
        from kernel_ext._events import LogEvent, bus

        def collect(event: object) -> None:
            if isinstance(event, LogEvent):
                name = "prefect.task_runs" if event.task_run_id else "prefect.flow_runs"
                record = logging.LogRecord(name, event.level, "", 0, event.message, None, None)
                handler.records.append(record)

        unsubscribe = bus.subscribe(collect)
        try:
            yield handler
        finally:
            unsubscribe()
        return
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
