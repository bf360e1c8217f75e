from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness


@pytest.fixture
def home() -> Iterator[Path]:
    """A throwaway data directory and SQLite store for one test."""
    with taskbook_test_harness() as path:
        yield path


@pytest.fixture
def store(home: Path) -> Any:
    from kernel_ext.store import get_store

    return get_store()
