"""Bring a store's schema to ``SCHEMA_REVISION`` on first use, safely across processes.

Opening an up-to-date store costs one query and never imports Alembic; an empty database
gets the tables as the code declares them, at the head revision, in one step (a test
keeps them equal to what the migrations build). Otherwise the migration runs. Both run
under a lock, so several processes opening a new store at once set it up exactly once:
a file lock next to a SQLite database, a transaction-scoped advisory lock on
PostgreSQL. Both re-read the revision once they hold the lock.

Adding a revision: change ``_tables``, then let Alembic draft the migration against a
scratch store at the current revision, review it, and set ``SCHEMA_REVISION = "0011"``
(a test checks that it is Alembic's head, another that the tables match the migrations):

    from alembic import command
    config = alembic_config("sqlite:///scratch.db")
    command.upgrade(config, "head")
    command.revision(config, "what changed", autogenerate=True, rev_id="0011")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from kernel_ext._errors import StoreSchemaError
from kernel_ext.store._engine import unavailable, write_engine
from kernel_ext.store._urls import mask, sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["MIGRATIONS", "SCHEMA_REVISION", "alembic_config", "current_revision", "migrate"]

SCHEMA_REVISION = "0010"
MIGRATIONS = Path(__file__).with_name("migrations")

# Any fixed 64-bit number works; this one spells "taskbook" in ASCII.
_PG_LOCK_KEY = 0x7461736B626F6F6B


def migrate(engine: Engine) -> None:
    """Make the store at ``engine`` current, or raise why it cannot be used."""
    _refuse_foreign_sqlite(engine)
    with _process_lock(engine):
        if current_revision(engine) != SCHEMA_REVISION:
            _upgrade(engine)


def _refuse_foreign_sqlite(engine: Engine) -> None:
    """A SQLite file with tables but no Taskbook schema is someone else's: refuse it
    before the first connection switches it to WAL or a migration writes to it."""
    if engine.dialect.name != "sqlite":
        return
    path = str(sqlite_path(engine.url))
    if path in ("", ":memory:") or not os.path.isfile(path) or not os.path.getsize(path):
        return
    import sqlite3
    from urllib.parse import quote

    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # the engine reports what is wrong with it
    try:
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError:
        return  # not a database at all: the engine says so (StoreUnavailableError)
    finally:
        connection.close()
    if names and "alembic_version" not in names:
        raise StoreSchemaError(
            f"{path} is a SQLite database that Taskbook did not create (tables: "
            f"{', '.join(sorted(names)[:5])}); it was left untouched. Point "
            "TASKBOOK_STORE_URL (or TASKBOOK_HOME) at another file."
        )


def current_revision(engine: Engine) -> str | None:
    """The store's Alembic revision, None for an empty database."""
    try:
        connection = engine.connect()
    except DBAPIError as error:
        raise unavailable(engine, error) from error
    with connection:
        try:
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:
            return None  # no table yet; _upgrade looks again under the lock
    return None if revision is None else str(revision)


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the store's migrations (also for writing new ones)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(engine: Engine) -> None:
    with write_engine(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        revision = _locked_revision(connection)
        if revision == SCHEMA_REVISION:
            return  # another process migrated while we waited for the lock
        inspector = inspect(connection)
        own = inspector.get_table_names(schema=inspector.default_schema_name)
        if revision is None and not own:  # in its own schema, not the search path's
            _create_at_head(connection)
            return
        _migrate(connection, engine, revision)


def _create_at_head(connection: Connection) -> None:
    """An empty database: create the tables as declared and stamp the head revision,
    as Alembic's own version table records it (replaying every migration costs more)."""
    from kernel_ext.store._tables import metadata

    metadata.create_all(connection, checkfirst=False)  # a table already there is an error
    connection.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    statement = text("INSERT INTO alembic_version (version_num) VALUES (:revision)")
    connection.execute(statement, {"revision": SCHEMA_REVISION})


def _migrate(connection: Connection, engine: Engine, revision: str | None) -> None:
    from alembic import command

    config = alembic_config()
    if revision is not None and not _is_known(config, revision):
        raise StoreSchemaError(
            f"The store at {mask(engine.url)} was written by a newer Taskbook (schema "
            f"{revision}; this one knows up to {SCHEMA_REVISION}); upgrade with "
            "`pip install -U taskbook` or point TASKBOOK_STORE_URL at another store."
        )
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _locked_revision(connection: Connection) -> str | None:
    # Ask first: on PostgreSQL a failed SELECT would abort the migration's transaction.
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def _is_known(config: Config, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


@contextlib.contextmanager
def _process_lock(engine: Engine) -> Iterator[None]:
    """Serialise opening a SQLite store across processes (a no-op on PostgreSQL).

    Held while the first connection switches the file to WAL, which needs an exclusive
    lock that SQLite's busy handler does not always wait for, and while migrating.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own write lock still serialises migrations
        yield
        return
    lock_file = f"{sqlite_path(engine.url)}.lock"
    try:
        descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise unavailable(engine, error) from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
