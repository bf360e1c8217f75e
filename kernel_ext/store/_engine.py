"""SQLAlchemy engines for the store, tuned per backend.

SQLite: WAL (readers never block the writer), ``synchronous=NORMAL`` (durable across
application crashes, at most the last commits lost on power loss), a 30 s busy timeout,
and ``BEGIN IMMEDIATE`` for write transactions. The last point is what keeps several
processes writing one file from seeing "database is locked": a deferred transaction that
turns into a writer cannot wait for the lock (SQLite fails it at once to avoid a
deadlock), whereas ``BEGIN IMMEDIATE`` takes the write lock up front and waits for it
under the busy timeout. Following SQLAlchemy's pysqlite recipe, the driver's own
transaction handling is switched off and SQLAlchemy emits BEGIN itself.

A connection is a writer when its execution options carry ``taskbook_write=True``; use
``write_engine(engine)`` for those.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import NoSuchModuleError

from kernel_ext._errors import StoreUnavailableError
from kernel_ext.store._checkpoints import AUTOMATIC_PAGES
from kernel_ext.store._types import dumps
from kernel_ext.store._urls import is_sqlite, mask, parse_store_url, sqlite_path

__all__ = ["BUSY_TIMEOUT", "create_store_engine", "unavailable", "write_engine"]

BUSY_TIMEOUT = 30.0
_WRITE = "taskbook_write"


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``; connects lazily (see ``unavailable`` for connect errors)."""
    parsed = parse_store_url(url)
    if is_sqlite(parsed):
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed)


def write_engine(engine: Engine) -> Engine:
    """The same pool, with connections that open write transactions."""
    return engine.execution_options(**{_WRITE: True})


def unavailable(engine: Engine, error: Exception) -> StoreUnavailableError:
    """The error to raise when ``engine`` cannot connect, saying what to check."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if engine.dialect.name == "sqlite":
        hint = (
            "check that the file is a Taskbook (SQLite) database and that its folder "
            "exists and is writable, or point TASKBOOK_STORE_URL at another store"
        )
    else:
        hint = (
            "check that the server is running and reachable, and that the user, password "
            "and database in TASKBOOK_STORE_URL are right"
        )
    return StoreUnavailableError(
        f"Cannot open the Taskbook store at {mask(engine.url)} ({reason}); {hint}."
    )


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_path(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnavailableError(
            f"Cannot create the folder of the Taskbook store {mask(url)} ({error}); "
            "check the path and its permissions, or point TASKBOOK_STORE_URL elsewhere."
        ) from error
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT}, json_serializer=dumps)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # The writer thread checkpoints (see _checkpoints): no commit of this process,
        # a slot's or a heartbeat's either, copies a long log on its caller's thread.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {AUTOMATIC_PAGES}")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(_WRITE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _postgres_engine(url: URL) -> Engine:
    # An unreachable host should fail in seconds, not after the OS's TCP timeout.
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    try:
        return create_engine(
            url,
            # Kernels live for days; a server restart or an idle-connection reaper must
            # not surface as an error on the next read.
            pool_pre_ping=True,
            connect_args=connect_args,
            json_serializer=dumps,
        )
    except (ImportError, NoSuchModuleError) as error:
        raise StoreUnavailableError(
            f"The PostgreSQL driver for {mask(url)} is not installed; install it with "
            "`pip install 'taskbook[postgres]'`."
        ) from error
