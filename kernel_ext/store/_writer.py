"""The background writer: drains a store's event queue into the database in batches.

The engine's hot path only appends to a ``deque``; this thread wakes every ``INTERVAL``
seconds (sooner when the queue passes ``WAKE_AT`` or someone flushes), turns what it
finds into rows and writes them with one ``executemany`` per table, in one transaction,
on a DBAPI connection of its own that it holds while it runs: SQLAlchemy's per-statement
and per-transaction work (events, result set-up, pool checkout) cost more than a small
batch's writing did.

On PostgreSQL each batch first inserts a row with its id into ``writer_batches`` (``ON
CONFLICT DO NOTHING``), in its own transaction, so a batch retried after a lost COMMIT
acknowledgement (the commit landed, the answer did not) finds it done, or waits for the
twin still in flight, and is not written twice. SQLite's answer cannot be lost.

Failures: a transient one (SQLite busy, a PostgreSQL serialization failure or dropped
connection; see ``_dbapi``) is retried with backoff for as long as it takes; ``flush`` times out
meanwhile and says why. A permanent one is retried on halves of the batch, so one bad event
cannot sink its neighbours; the events that still fail alone are reported by the next
``flush``. Nothing is dropped silently.

The count of lost events is kept exact: a batch in hand counts only its events neither
committed nor already counted (``_in_flight``), and the counters that both the writer and
the flushing threads change are changed under a lock. The engine's ``submit`` never takes
it: only failures and reports do.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from kernel_ext._errors import StoreError
from kernel_ext._events import Event, RunsSubmitted
from kernel_ext.store._checkpoints import Checkpointer
from kernel_ext.store._dbapi import (
    begin_immediate,
    close_cursor,
    connection_lost,
    in_transaction,
    is_transient,
    roll_back,
)
from kernel_ext.store._engine import write_engine
from kernel_ext.store._inserts import prepare_batch_claims, prepare_inserts
from kernel_ext.store._rows import Rows, TimeEncoder, to_rows
from kernel_ext.store._urls import mask
from kernel_ext.store._writer_queue import FlushTicket, drain, forget, happened
from kernel_ext.store.records import WriterLag

__all__ = ["INTERVAL", "WAKE_AT", "FlushTicket", "Writer"]

logger = logging.getLogger("taskbook.store")

INTERVAL = 0.05
MAX_BATCH = 10_000
# Wake early only once a full batch is waiting: smaller, more frequent batches cost the
# engine more (per-transaction overhead and GIL hand-offs) than they save in latency.
WAKE_AT = MAX_BATCH
_MAX_BACKOFF = 2.0
_SQLITE_CACHE_KIB = -65_536  # negative: KiB, so 64 MiB at most, allocated as used
# Committed batches are remembered a day (a retry comes within seconds or minutes), and
# each writer deletes older ones every ten minutes.
_KEEP_BATCHES = 86_400.0
_PRUNE_EVERY = 600.0


class _Abandoned(Exception):
    """The store was closed while a batch was still failing; stop retrying."""


class Writer:
    """Owns the writer thread of one store and the errors it has to report."""

    def __init__(self, engine: Engine, queue: deque[Event | FlushTicket]) -> None:
        self._engine = write_engine(engine)
        self._queue = queue
        self.wake = threading.Event()
        # Compiled on the first batch (under ``_writing``): a store opened to read, as by
        # ``taskbook runs ls``, never pays for it.
        self._prepared: tuple[list[tuple[str, str]], TimeEncoder] | None = None
        self._stopping = False
        self._abandon = threading.Event()
        self._in_flight = 0  # events of the batch in hand not yet committed nor counted lost
        self._in_flight_since: float | None = None  # when its oldest event happened
        # Only a server can commit while its answer is lost; SQLite's answer cannot be.
        self._remote = self._engine.dialect.name == "postgresql"
        self._checkpoints = None if self._remote else Checkpointer(self._engine)
        self._claims = prepare_batch_claims() if self._remote else None
        self._connection: Any = None  # the writer's own DBAPI connection
        # Held while a batch is written: by the writer thread, or by a flushing thread
        # that writes the queue itself (``_write_here``).
        self._writing = threading.Lock()
        self._committed = False  # whether the last transaction committed (under _writing)
        self._closed = False  # the thread has ended and let its connection go
        # Writers that start together do not all prune at once.
        self._pruned_at = time.time() - random.uniform(0, _PRUNE_EVERY)
        # The writer counts losses while a flushing thread reports and resets them.
        self._failures_lock = threading.Lock()
        self._failed = 0  # events lost since the last flush reported them
        self._failure: Exception | None = None
        self._fatal: BaseException | None = None
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, name="taskbook-store-writer", daemon=True
        )
        self._thread.start()

    def flush(self, timeout: float | None) -> None:
        """Block until everything queued before this call is committed."""
        self._raise_if_dead()
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._write_here(deadline):
            self._raise_failure()
            return
        ticket = FlushTicket()
        self._queue.append(ticket)
        self.wake.set()
        # Poll rather than wait once, so a writer that dies meanwhile is noticed.
        while not ticket.wait(0.1):
            self._raise_if_dead()
            if deadline is not None and time.monotonic() >= deadline:
                raise self._timeout_error(timeout)
        self._raise_if_dead()
        self._raise_failure()

    def _write_here(self, deadline: float | None) -> bool:
        """On SQLite, write what is queued on the calling thread when nobody else is
        writing and the file's lock is free: a flush then costs its commit and no
        hand-off to the writer thread and back (most of an empty flow's time). Only
        what was queued when it was called, and not past ``deadline``: events that
        come meanwhile are the writer thread's. Anything else (a failure, a busy file,
        Ctrl-C) leaves what did not commit in the queue for the writer thread, which
        retries and reports; False then (or the signal).

        A batch stays at the front of the queue while it is written, and leaves it once
        committed: an interruption at any point neither loses it nor writes it twice.

        Not on PostgreSQL: there a batch retried after a lost COMMIT answer must keep
        its id (see ``_commit``), which only the writer thread's retries do."""
        if self._remote or self._stopping or not self._writing.acquire(blocking=False):
            return False
        try:
            left = len(self._queue)
            while left > 0 and not self._closed and not self._stopping:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                # Only a holder of _writing takes from the front: these stay put.
                batch = list(itertools.islice(self._queue, min(left, MAX_BATCH)))
                if not batch:  # emptied by a closing store
                    break
                left -= len(batch)
                if not self._commit_here(batch):
                    self.wake.set()
                    return False
            return not self._closed
        finally:
            self._writing.release()

    def _commit_here(self, batch: list[Event | FlushTicket]) -> bool:
        """Commit ``batch`` (the front of the queue); once committed, take it off and
        wake its tickets. Whether it committed."""
        events = [e for e in batch if type(e) is not FlushTicket and type(e) is not RunsSubmitted]
        self._committed = not events
        try:
            if events:
                self._commit_once(events)  # type: ignore[arg-type]
        finally:
            if self._committed:
                try:
                    forget(self._queue, batch)
                except BaseException:  # a signal while taking it off: finish, then raise
                    forget(self._queue, batch)
                    raise
                finally:
                    for item in batch:
                        if type(item) is FlushTicket:
                            item.set()
        return self._committed

    def _commit_once(self, events: list[Event]) -> None:
        """One attempt; ``_committed`` says whether it committed."""
        try:
            rows = to_rows(events, self._prepare()[1])
            self._transaction(rows, "", wait=False)
        except Exception:
            return
        except BaseException:
            if self._committed:
                rows.mark_persisted()
            raise
        rows.mark_persisted()

    def lag(self, now: float) -> WriterLag:
        """The events not committed yet (queued, or in the batch being written) and the
        age of the oldest. Reads without a lock: the engine may be appending meanwhile,
        so the figure is a snapshot, off by the events of that instant."""
        queued = self._in_flight + len(self._queue)
        oldest = self._in_flight_since
        if oldest is None:
            try:
                oldest = happened(self._queue[0])
            except IndexError:  # drained meanwhile
                oldest = None
        age = None if oldest is None or not queued else max(0.0, now - oldest)
        return {"queued": queued, "oldest_age": age}

    def stop(self, abandon: bool) -> int:
        """End the thread once it has written what is queued, or at once if ``abandon``.

        Returns how many events were left unwritten.
        """
        self._stopping = True
        if abandon:
            self._abandon.set()
        self.wake.set()
        self._thread.join(timeout=10)
        self._release_leftovers()
        with self._failures_lock:
            return self._failed

    def _main(self) -> None:
        try:
            while not self._stopping or self._queue:
                self.wake.wait(INTERVAL)
                self.wake.clear()
                while self._queue and not self._abandon.is_set():
                    # A flush writing on its own thread takes what it found; what comes
                    # after is this thread's at its next wake (waiting for the lock
                    # here would write beside the engine's next run, sharing the GIL).
                    if not self._writing.acquire(blocking=False):
                        break
                    try:
                        self._write_next_batch()
                    finally:
                        self._writing.release()
                if self._abandon.is_set():
                    break
                if self._checkpoints is not None and not self._queue:
                    self._checkpoints.run_if_due()  # nothing to write: the log goes now
        except _Abandoned:
            self._count_lost(self._in_flight)
            self._in_flight = 0
        except BaseException as error:  # reported by flush(); the thread must not vanish
            logger.exception("The Taskbook store writer stopped")
            self._fatal = error
        finally:
            with self._writing:
                self._closed = True
                self._disconnect(invalidate=False)
            if self._checkpoints is not None:
                self._checkpoints.close()
            self._release_leftovers()

    def _write_next_batch(self) -> None:
        events, tickets = drain(self._queue, MAX_BATCH)
        self._in_flight = len(events)
        self._in_flight_since = happened(events[0]) if events else None
        if events:
            self._write(events)
        self._in_flight = 0
        self._in_flight_since = None
        for ticket in tickets:
            ticket.set()

    def _write(self, events: list[Event]) -> None:
        """Commit ``events``, or as many of them as can be; the rest are counted lost."""
        try:
            self._commit(events)
        except _Abandoned:
            raise
        except Exception as error:
            if len(events) == 1:
                self._record_failure(error)
                self._in_flight -= 1
                return
            # Halve until the culprits are alone; everything else gets written.
            middle = len(events) // 2
            self._write(events[:middle])
            self._write(events[middle:])
        else:
            # Committed: if the store is abandoned later in this batch, these are not lost.
            self._in_flight -= len(events)

    def _commit(self, events: Sequence[Event]) -> None:
        attempt, batch_id = 0, uuid.uuid4().hex
        while True:
            rows = to_rows(events, self._prepare()[1])
            try:
                self._transaction(rows, batch_id)
            except Exception as error:
                lost = connection_lost(error, self._connection)
                if lost:
                    self._disconnect(invalidate=True)
                if not (lost or is_transient(error)):
                    raise
                attempt += 1
                self.last_error = error
                self._back_off(attempt, error)
                continue
            rows.mark_persisted()
            self.last_error = None
            return

    def _transaction(self, rows: Rows, batch_id: str, wait: bool = True) -> None:
        """Write ``rows`` in one transaction (rolled back if anything fails). On SQLite,
        without ``wait`` a file locked by another writer fails at once."""
        connection = self._connect()
        cursor = connection.cursor()
        committing = False
        try:
            if not self._remote:
                begin_immediate(cursor, wait)
            # After a failed attempt its COMMIT may have landed all the same (the
            # connection dropped before the answer came): then it is done. The batch's
            # row goes first: a retry waits there for a twin in flight.
            if not self._remote or self._claim_batch(cursor, batch_id):
                self._execute(connection, rows)
            committing = True
            connection.commit()
            self._committed = True
            if self._checkpoints is not None:
                self._checkpoints.due = True
        except BaseException as error:
            if committing and not isinstance(error, Exception) and not in_transaction(connection):
                # A signal that came during COMMIT is raised as it returns: committed.
                self._committed = True
            close_cursor(cursor)
            if not roll_back(connection):
                # Still inside its transaction: the next batch could not begin one.
                self._disconnect(invalidate=True)
            raise
        close_cursor(cursor)

    def _prepare(self) -> tuple[list[tuple[str, str]], TimeEncoder]:
        """The inserts' SQL in write order, and how times are encoded."""
        if self._prepared is None:
            self._prepared = prepare_inserts(self._engine.dialect)
        return self._prepared

    def _connect(self) -> Any:
        if self._connection is None:
            # A pooled connection: the engine's connect listeners (PRAGMAs) have run.
            connection = self._engine.raw_connection()
            if not self._remote:
                # The pages a batch touches stay in memory between batches (SQLite's
                # default cache is 2 MB; the indexes of a busy store are far bigger).
                try:
                    connection.cursor().execute(f"PRAGMA cache_size = {_SQLITE_CACHE_KIB}")
                except BaseException:
                    connection.close()
                    raise
            self._connection = connection
        return self._connection

    def _disconnect(self, invalidate: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if invalidate:  # dropped by the server: the pool must not hand it out again
                connection.invalidate()
            else:
                connection.close()  # back to the pool
        except Exception:  # it is gone either way
            pass

    def _claim_batch(self, cursor: Any, batch_id: str) -> bool:
        """Record the batch; False if an earlier attempt of it committed already."""
        assert self._claims is not None
        now = time.time()
        cursor.execute(self._claims.claim, (batch_id, datetime.fromtimestamp(now, UTC)))
        claimed = cursor.fetchone() is not None
        if now - self._pruned_at > _PRUNE_EVERY:
            cursor.execute(self._claims.prune, (datetime.fromtimestamp(now - _KEEP_BATCHES, UTC),))
            self._pruned_at = now
        return claimed

    def _execute(self, connection: Any, rows: Rows) -> None:
        cursor = connection.cursor()
        try:
            for table, sql in self._prepare()[0]:
                batch = getattr(rows, table)
                if batch:
                    cursor.executemany(sql, batch)
        finally:
            cursor.close()

    def _back_off(self, attempt: int, error: Exception) -> None:
        delay = min(_MAX_BACKOFF, 0.01 * 2**attempt)
        if attempt == 10:
            logger.warning("The Taskbook store is busy or unreachable; retrying: %s", error)
        if self._abandon.wait(delay):
            raise _Abandoned from error

    def _record_failure(self, error: Exception) -> None:
        logger.error("The Taskbook store could not write an event", exc_info=error)
        with self._failures_lock:
            self._failed += 1
            self._failure = error

    def _count_lost(self, count: int) -> None:
        """Add events that were never written (the store closed before they could be)."""
        if count:
            with self._failures_lock:
                self._failed += count

    def _raise_failure(self) -> None:
        # Read and reset together: a failure recorded in between would be reported never.
        with self._failures_lock:
            failure, count = self._failure, self._failed
            if failure is None:
                return
            self._failure, self._failed = None, 0
        raise StoreError(
            f"{count} event(s) could not be written to the store at "
            f"{mask(self._engine.url)} and are lost (last: {type(failure).__name__}: "
            f"{failure}). The other events were written; the full tracebacks are in the "
            "'taskbook.store' log."
        ) from failure

    def _raise_if_dead(self) -> None:
        if self._fatal is not None:
            raise StoreError(
                f"The store writer stopped ({type(self._fatal).__name__}: {self._fatal}); "
                "later runs are not saved. Call kernel_ext.store.reset_store() or restart "
                "the kernel."
            ) from self._fatal
        if not self._thread.is_alive():
            raise StoreError("The store is closed; get the current one with get_store().")

    def _timeout_error(self, timeout: float | None) -> StoreError:
        pending = self._in_flight + sum(1 for i in list(self._queue) if type(i) is not FlushTicket)
        cause = f" (last error: {self.last_error})" if self.last_error else ""
        error = StoreError(
            f"The store at {mask(self._engine.url)} did not commit within {timeout} s"
            f"{cause}; {pending} event(s) are waiting. Check that the database is "
            "reachable, or call flush(timeout=None) to wait longer."
        )
        error.__cause__ = self.last_error
        return error

    def _release_leftovers(self) -> None:
        """Wake every flush still waiting, and count the events never written.

        Both ``stop`` and the ending writer thread call this: the deque hands each item
        to one of them, and each adds what it took to the count under the lock, before
        it wakes a flush queued after those events.
        """
        lost = 0
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:  # emptied, perhaps by the other thread
                break
            if type(item) is FlushTicket:
                self._count_lost(lost)
                lost = 0
                item.set()
            elif type(item) is not RunsSubmitted:
                lost += 1
        self._count_lost(lost)
