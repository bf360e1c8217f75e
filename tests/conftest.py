"""Fixtures shared by every test package: a real PostgreSQL database for the session.

The server is expected at 127.0.0.1:5432 (user postgres, trust auth) or at
TASKBOOK_TEST_POSTGRES_URL; without it the PostgreSQL tests are skipped, except under CI
(``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

POSTGRES_ADMIN_URL = os.environ.get(
    "TASKBOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


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
