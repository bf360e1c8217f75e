"""SQLite checkpoints off the commit path: the writer thread moves the write-ahead log
into the database file while nothing waits for it.

Left to SQLite, the commit that takes the log past 1,000 pages does the checkpoint: it
copies every page the log holds into the file and syncs it, on the thread that commits,
which is often a flow's own flush as the flow returns. On a store that has grown (a
batch's inserts land all over its indexes, one page each) that was half the time of a
sequential task. So the writer's connection lets the log grow to ``AUTOMATIC_PAGES``
before SQLite checkpoints by itself, and the writer thread checkpoints whenever it finds
nothing to write after a commit, on a connection of its own (so a flush committing on
the writer's connection meanwhile does not wait): PASSIVE, so it never blocks a reader or
a writer, and whatever it cannot copy yet waits for the next one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

__all__ = ["AUTOMATIC_PAGES", "Checkpointer"]

logger = logging.getLogger("taskbook.store")

# SQLite's own checkpoint, as a backstop for a writer that never runs out of work: 40 MB
# of log (its default is 1,000 pages, 4 MB).
AUTOMATIC_PAGES = 10_000


class Checkpointer:
    """Checkpoints a SQLite store's log when ``due`` (set after each commit)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self.due = False  # something was committed since the last checkpoint

    def run(self) -> None:
        """Checkpoint now (a failure is logged: the next commit makes it due again)."""
        self.due = False  # before: a commit that lands during the checkpoint makes it due
        try:
            if self._connection is None:
                self._connection = self._engine.raw_connection()
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
            finally:
                cursor.close()
        except Exception as error:
            logger.debug("A checkpoint of the Taskbook store failed: %s", error)
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # it is gone either way
                pass
