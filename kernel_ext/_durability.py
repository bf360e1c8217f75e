"""The engine's two touch points with the store: subscribe before, flush after.

A top-level run (a flow called outside any flow, or a task called outside any flow)
makes sure the store is listening before its first event and waits for the flush when it
ends, so a process that exits right after the call loses nothing.
"""

from __future__ import annotations

__all__ = ["flush_store"]


def flush_store() -> None:
    from kernel_ext.store import get_store

    get_store().flush()
