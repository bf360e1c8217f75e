"""Fixtures for the store tests: each test runs on SQLite and on a real PostgreSQL.

The PostgreSQL server is expected at 127.0.0.1:5432 (user postgres, trust auth) or at
TASKBOOK_TEST_POSTGRES_URL; without it these tests are skipped, except under CI (``CI``
set), where they fail. The session gets a fresh database, dropped at the end; each test
gets its own schema in it, so tests see neither each other's rows nor migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_ext.store import Store, reset_store
from tests.postgres import new_schema_url
from tests.store.helpers import Runs

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'taskbook.db'}"
    return new_schema_url(request.getfixturevalue("postgres_database"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _no_store_left_open() -> Iterator[None]:
    yield
    reset_store()


@pytest.fixture
def runs() -> Runs:
    return Runs()
