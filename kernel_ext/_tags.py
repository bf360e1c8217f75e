"""``tags(...)``: tags that every flow run and task run created inside the block carries.

    with tags("etl", "nightly"):
        load()          # its run has the tags etl, nightly (and the task's own)

Blocks nest, and the inner one adds to the outer one's tags, as in Prefect. A context
variable holds them, so threads started by the task runner and asyncio tasks see the
tags of the code that started them. The engine reads them with ``current_tags()`` when it
creates a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_tags", "tags"]

_current: ContextVar[frozenset[str]] = ContextVar("taskbook_tags", default=frozenset())


def current_tags() -> frozenset[str]:
    """The tags of the innermost ``tags(...)`` block around the calling code (none: empty)."""
    return _current.get()


@contextmanager
def tags(*new_tags: str) -> Iterator[set[str]]:
    """Add ``new_tags`` to the runs created in the block; yields the block's whole set."""
    combined = _current.get().union(new_tags)
    token = _current.set(combined)
    try:
        yield set(combined)  # a copy, as Prefect yields: changing it changes nothing
    finally:
        _current.reset(token)
