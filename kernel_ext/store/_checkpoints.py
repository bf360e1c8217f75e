"""SQLite checkpoints off the commit path: the writer thread moves the write-ahead log
into the database file, not the commit that happens to cross SQLite's threshold.

Left to SQLite, the commit that takes the log past 1,000 pages does the checkpoint: it
copies every page the log holds into the file and syncs it, on the thread that commits,
which is often a flow's own flush as the flow returns. On a store that has grown (a
batch's inserts land all over its indexes, one page each) that was half the time of a
sequential task. So every connection of the store lets the log grow to
``AUTOMATIC_PAGES`` before SQLite checkpoints by itself (see ``_engine``), and the writer
thread checkpoints when it finds nothing to write after a commit (at most every
``EVERY`` seconds), on a connection of its own, so that a flush committing on the
writer's connection meanwhile does not wait. PASSIVE: it never blocks a reader or a
writer, and what it cannot copy yet waits for the next one. (Checkpointing between
batches as well, or less often, left more of the log to the backstop, in a flow's flush:
slower on a store of a million task runs.) The log file keeps the size of its busiest
moment: about ``AUTOMATIC_PAGES`` pages, more while a reader holds an old snapshot.

A checkpoint holds SQLite's checkpoint lock, and a process forked meanwhile would inherit
it held (SQLite keeps its locks per process): a fork waits for the checkpoint to end. (A
fork during a write transaction has the same hazard, with or without these checkpoints:
not guarded here.)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

__all__ = ["AUTOMATIC_PAGES", "EVERY", "Checkpointer"]

logger = logging.getLogger("taskbook.store")

# SQLite's own checkpoint, as a backstop for a writer that is never out of work: 40 MB
# of log (its default is 1,000 pages, 4 MB). Cutting the file back after checkpoints
# (journal_size_limit) made a sequential task on a store of a million task runs slower
# (91 us against 60 to 70).
AUTOMATIC_PAGES = 10_000
EVERY = 0.05  # seconds at least between two (each that copies pages also syncs the file)

_checkpointing = threading.Lock()


def _renew_lock() -> None:
    global _checkpointing, _held_for_fork
    _checkpointing, _held_for_fork = threading.Lock(), False


_held_for_fork = False


def _hold_for_fork() -> None:
    global _held_for_fork
    _checkpointing.acquire()  # (a signal may interrupt it: then nothing is held)
    _held_for_fork = True


def _release_after_fork() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _checkpointing.release()


os.register_at_fork(
    before=_hold_for_fork, after_in_parent=_release_after_fork, after_in_child=_renew_lock
)


class Checkpointer:
    """Checkpoints a SQLite store's log when ``due`` (set after each commit)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self._last = 0.0  # time.monotonic() of the last checkpoint
        self.due = False  # something was committed since the last checkpoint

    def run_if_due(self) -> None:
        if self.due and time.monotonic() - self._last >= EVERY:
            self.run()

    def run(self) -> None:
        """Checkpoint now (a failure is logged: the next commit makes it due again)."""
        self.due = False  # before: a commit that lands during the checkpoint makes it due
        self._last = time.monotonic()
        try:
            if self._connection is None:
                self._connection = self._engine.raw_connection()
            cursor = self._connection.cursor()
            try:
                with _checkpointing:
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
