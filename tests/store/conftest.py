"""Fixtures for the store tests: each test runs on SQLite and on a real PostgreSQL.

The PostgreSQL server is expected at 127.0.0.1:5432 (user postgres, trust auth) or at
TASKBOOK_TEST_POSTGRES_URL; without it these tests are skipped, except under CI (``CI``
set), where they fail. The session gets a fresh database, dropped at the end; each test
gets its own schema in it, so tests see neither each other's rows nor migrations.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from kernel_ext.store import Store, reset_store
from tests.store.helpers import Runs

POSTGRES_ADMIN_URL = os.environ.get(
    "TASKBOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database created for this session (dropped at the end)."""
    admin = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        connection = admin.connect()
    except OperationalError as error:
        admin.dispose()
        reason = (
            f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}"
            f" ({str(error.orig).splitlines()[0]}); start it, or set "
            "TASKBOOK_TEST_POSTGRES_URL, to run these tests"
        )
        if os.environ.get("CI"):  # CI provides the server: a skip there would hide failures
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"taskbook_test_{secrets.token_hex(6)}"
    with connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'taskbook.db'}"
    database: str = request.getfixturevalue("postgres_database")
    schema = f"test_{secrets.token_hex(6)}"
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{database}?options=-csearch_path%3D{schema}"


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
