"""Test helpers for users' own tests: run flows against a throwaway store.

    from kernel_ext.testing import taskbook_test_harness

    def test_my_flow():
        with taskbook_test_harness():
            assert my_flow() == 42

or, with pytest (this module is registered as a pytest plugin), use the fixture
``taskbook_harness``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_ext import _settings

__all__ = ["taskbook_harness", "taskbook_test_harness"]


@contextlib.contextmanager
def taskbook_test_harness(store_url: str | None = None) -> Iterator[Path]:
    """Point Taskbook at a fresh data directory (and store) for the duration of the block.

    Yields the temporary data directory. Everything written there is deleted afterwards.
    """
    from kernel_ext.store import reset_store

    with tempfile.TemporaryDirectory(prefix="taskbook-test-") as tmp:
        values = {"TASKBOOK_HOME": tmp, "TASKBOOK_RESULTS_URL": str(Path(tmp) / "results")}
        values["TASKBOOK_STORE_URL"] = store_url or f"sqlite:///{Path(tmp) / 'taskbook.db'}"
        reset_store()
        with _settings.override(**values):
            try:
                yield Path(tmp)
            finally:
                reset_store()


@pytest.fixture
def taskbook_harness() -> Iterator[Path]:
    """A pytest fixture around ``taskbook_test_harness``; yields the data directory."""
    with taskbook_test_harness() as home:
        yield home
