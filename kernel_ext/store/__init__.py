"""The state store: every run, state, log line and result index entry, in one database.

A SQLite file under the data directory by default; a PostgreSQL URL in
``TASKBOOK_STORE_URL`` shares it between machines. The schema is migrated on first use.
The engine's events reach the store through the event bus and are written in batches by
a background thread, so recording a run costs the engine microseconds.

    store = get_store()
    store.flush()
    for run in store.list_flow_runs(limit=10):
        print(run["name"], run["state"])

``get_store`` is the one accessor of the current store. Importing this package is light:
SQLAlchemy loads when the first store opens (or ``Store`` is first used), so any module
may import ``get_store`` at its top. The records the reads return are typed in
``kernel_ext.store.records`` (``FlowRunRecord``, ``TaskRunRecord``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel_ext.store._registry import current_store, get_store, reset_store

if TYPE_CHECKING:
    from kernel_ext.store._schema import SCHEMA_REVISION
    from kernel_ext.store._store import Store

__all__ = ["SCHEMA_REVISION", "Store", "current_store", "get_store", "reset_store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from kernel_ext.store._store import Store

        return Store
    if name == "SCHEMA_REVISION":  # the revision this version migrates a store to
        from kernel_ext.store._schema import SCHEMA_REVISION

        return SCHEMA_REVISION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
