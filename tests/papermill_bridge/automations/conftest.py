from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness
from tests.postgres import new_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway data directory, with a store on SQLite or on a real PostgreSQL."""
    url = None
    if request.param == "postgresql":
        url = new_schema_url(request.getfixturevalue("postgres_database"))
    with taskbook_test_harness(store_url=url) as path:
        monkeypatch.setenv("TASKBOOK_HOME", str(path))
        if url is None:
            monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
        else:
            monkeypatch.setenv("TASKBOOK_STORE_URL", url)
        monkeypatch.delenv("TASKBOOK_RESULTS_URL", raising=False)
        yield path


@pytest.fixture
def store(home: Path) -> Any:
    from kernel_ext.store import get_store

    return get_store()
