"""How big the store is: rows and bytes on disk of each table, its indexes included.

SQLite answers from the ``dbstat`` virtual table when the library was built with it (most
are), else only the whole file's size is known (pages times page size) and the tables'
bytes are None; PostgreSQL from ``pg_total_relation_size`` (table, indexes and TOAST).
"""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from kernel_ext.store._tables import metadata

__all__ = ["TableSize", "database_bytes", "table_sizes"]


class TableSize(TypedDict):
    """One table of the store: its rows, and its bytes on disk (None when unknown)."""

    table: str
    rows: int
    bytes: int | None


def table_sizes(connection: Connection) -> list[TableSize]:
    sizes = _bytes(connection)
    found: list[TableSize] = [
        {
            "table": table.name,
            "rows": connection.execute(select(func.count()).select_from(table)).scalar_one(),
            "bytes": sizes.get(table.name),
        }
        for table in metadata.sorted_tables
    ]
    return sorted(found, key=lambda size: (-(size["bytes"] or 0), -size["rows"], size["table"]))


def database_bytes(connection: Connection) -> int:
    """The whole database's size on disk."""
    if connection.dialect.name == "sqlite":
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        return int(pages) * int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
    return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def _bytes(connection: Connection) -> dict[str, int]:
    if connection.dialect.name == "sqlite":
        pages = (
            "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat AS d "
            "JOIN sqlite_master AS m ON m.name = d.name GROUP BY m.tbl_name"
        )
        try:
            return {name: int(size) for name, size in connection.exec_driver_sql(pages)}
        except OperationalError:  # built without dbstat
            return {}
    query = text("SELECT pg_total_relation_size(to_regclass(:name))")
    found = {
        t.name: connection.execute(query, {"name": t.name}).scalar() for t in metadata.sorted_tables
    }
    return {name: int(size) for name, size in found.items() if size is not None}
