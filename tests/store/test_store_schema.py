"""Migrations: applied on first use, once, and refused when the store is newer."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from kernel_ext._errors import StoreSchemaError
from kernel_ext.store import Store
from kernel_ext.store._engine import create_store_engine
from kernel_ext.store._schema import SCHEMA_REVISION, alembic_config, current_revision
from kernel_ext.store._tables import metadata


def test_schema_revision_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [SCHEMA_REVISION]


def test_migrations_create_exactly_the_tables_in_code(store: Store) -> None:
    engine = create_store_engine(store.url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert current_revision(engine) == SCHEMA_REVISION
    engine.dispose()


def test_a_store_from_a_newer_taskbook_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    engine.dispose()

    with pytest.raises(StoreSchemaError) as caught:
        Store(store_url)
    message = str(caught.value)
    assert "newer Taskbook (schema 0042" in message
    assert "pip install -U taskbook" in message
    assert "TASKBOOK_STORE_URL" in message


def test_an_up_to_date_store_opens_without_alembic(store_url: str) -> None:
    Store(store_url).close()
    code = (
        "import sys; from kernel_ext.store import Store; "
        f"Store({store_url!r}).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_concurrent_first_use_migrates_once(store_url: str) -> None:
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            Store(store_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == [SCHEMA_REVISION]
