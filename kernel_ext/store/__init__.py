"""The state store: every run, state, log line and result index entry, in one database.

A SQLite file under the data directory by default; a PostgreSQL URL in
``TASKBOOK_STORE_URL`` shares it between machines. The schema is migrated on first use.
The engine's events reach the store through the event bus and are written in batches by
a background thread, so recording a run costs the engine microseconds.

    store = get_store()
    store.flush()
    for run in store.list_flow_runs(limit=10):
        print(run["name"], run["state"])

Importing this package loads SQLAlchemy; ``import kernel_ext`` does not import it.
"""

from __future__ import annotations

from kernel_ext.store._registry import get_store, reset_store
from kernel_ext.store._store import Store

__all__ = ["Store", "get_store", "reset_store"]
