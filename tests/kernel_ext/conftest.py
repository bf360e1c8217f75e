from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness
from tests.postgres import new_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A throwaway data directory, with a store on SQLite or on a real PostgreSQL."""
    url = None
    if request.param == "postgresql":
        url = new_schema_url(request.getfixturevalue("postgres_database"))
    with taskbook_test_harness(store_url=url) as path:
        yield path


@pytest.fixture
def store(home: Path) -> Any:
    from kernel_ext.store import get_store

    return get_store()
