"""Alembic environment for the Taskbook store.

Taskbook runs migrations itself on first use and hands over its open connection in
``config.attributes["connection"]`` (inside the caller's transaction and lock). Without
one, as when a developer autogenerates a new revision, the engine is built from the
``sqlalchemy.url`` option with the store's own connection settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from kernel_ext.store._engine import create_store_engine, write_engine
from kernel_ext.store._tables import metadata
from kernel_ext.store._types import render_item


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("Set the sqlalchemy.url option to the store to migrate.")
    engine = create_store_engine(url)
    try:
        with write_engine(engine).connect() as connection:
            _configure_and_run(connection)
            connection.commit()
    finally:
        engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        render_item=render_item,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
