"""The store writer's DBAPI connection: its transactions and what its errors mean.

The writer holds a driver connection (sqlite3 or psycopg) rather than SQLAlchemy's
``Connection``, so it meets the drivers' own errors and transaction states; these say
which failures a retry can mend and when the connection must be dropped.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.exc import DBAPIError

from kernel_ext.store._engine import BUSY_TIMEOUT

__all__ = [
    "begin_immediate",
    "close_cursor",
    "connection_lost",
    "in_transaction",
    "is_transient",
    "roll_back",
]

_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same transaction later can succeed. Takes the driver's own
    errors (the writer's) and SQLAlchemy's, which wrap them."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        return error.orig is not None and is_transient(error.orig)
    if isinstance(error, sqlite3.Error):
        message = str(error).lower()
        return "locked" in message or "busy" in message
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is None:
        # psycopg raises an OperationalError without a SQLSTATE when it cannot connect
        # (ConnectionTimeout and others are subclasses of it).
        return any(kind.__name__ == "OperationalError" for kind in type(error).__mro__)
    return str(sqlstate)[:2] in _TRANSIENT_SQLSTATE_CLASSES


def connection_lost(error: BaseException, connection: Any) -> bool:
    """Whether ``connection`` cannot be used again after ``error`` (the server dropped
    it): the next attempt takes a new one."""
    if connection is None:  # not opened: whether to try again is the error's to say
        return False
    driver = getattr(connection, "driver_connection", None)
    if getattr(driver, "broken", False) or getattr(driver, "closed", False):
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate is not None and str(sqlstate).startswith("08")


def begin_immediate(cursor: Any, wait: bool) -> None:
    """Take SQLite's write lock, waiting for it up to the busy timeout (see ``_engine``)
    or, without ``wait``, not at all."""
    if wait:
        cursor.execute("BEGIN IMMEDIATE")
        return
    cursor.execute("PRAGMA busy_timeout = 0")
    try:
        cursor.execute("BEGIN IMMEDIATE")
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")


def roll_back(connection: Any) -> bool:
    """Roll back; whether the connection is out of its transaction (a dropped one is)."""
    try:
        connection.rollback()
    except Exception:  # a dropped connection: nothing to roll back on this side
        pass
    return not in_transaction(connection)


def in_transaction(connection: Any) -> bool:
    """Whether the DBAPI connection is inside a transaction (sqlite3, psycopg)."""
    driver = connection.driver_connection
    status = getattr(getattr(driver, "info", None), "transaction_status", None)
    if status is not None:  # psycopg: IDLE is 0
        return int(status) != 0
    return bool(getattr(driver, "in_transaction", False))


def close_cursor(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # its connection was dropped: nothing to close
        pass
