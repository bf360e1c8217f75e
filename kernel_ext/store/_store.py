"""The Store: one database, its background writer, and the reads over it."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from kernel_ext._errors import StoreError
from kernel_ext._events import Event
from kernel_ext.store import _reads
from kernel_ext.store._engine import create_store_engine, unavailable
from kernel_ext.store._schema import migrate
from kernel_ext.store._urls import mask
from kernel_ext.store._writer import WAKE_AT, FlushTicket, Writer

__all__ = ["Store"]

P = ParamSpec("P")
T = TypeVar("T")


class Store:
    """The state store at one URL: takes the engine's events, answers the readers.

    Opening it creates the database if needed, migrates it, and starts the writer
    thread. ``submit`` is the engine's hot path (any thread, no I/O); the reads see what
    the writer has committed, so ``flush()`` first to include this process's latest
    events. Use ``get_store()`` rather than this class directly: it shares one store per
    process and subscribes it to the engine's events.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.closed = False
        self._engine = create_store_engine(url)
        try:
            migrate(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        self._queue: deque[Event | FlushTicket] = deque()
        self._writer = Writer(self._engine, self._queue)
        self._wake = self._writer.wake
        self._on_close: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<Store {self.display_url}{' (closed)' if self.closed else ''}>"

    @property
    def display_url(self) -> str:
        """The URL with its password masked, fit to show or log."""
        return mask(self.url)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def submit(self, event: Event) -> None:
        """Queue ``event`` for the writer. Cheap: no lock, no I/O."""
        queue = self._queue
        queue.append(event)
        if len(queue) >= WAKE_AT and not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float | None = 30) -> None:
        """Block until every event submitted before this call is committed.

        Raises ``StoreError`` if that takes longer than ``timeout`` seconds, if events
        could not be written since the last flush, or if the writer has stopped.
        """
        self._writer.flush(timeout)

    def close(self, timeout: float | None = 30) -> None:
        """Stop taking events, write the queued ones, and release the database."""
        if self.closed:
            return
        self.closed = True
        for callback in self._on_close:
            callback()
        try:
            self._writer.flush(timeout)
        except StoreError as error:
            lost = self._writer.stop(abandon=True)
            self._engine.dispose()
            if lost:
                raise StoreError(
                    f"The store at {mask(self.url)} closed with {lost} event(s) not written: "
                    f"{error}"
                ) from error
            raise
        self._writer.stop(abandon=False)
        self._engine.dispose()

    def detach_after_fork(self) -> None:
        """In a forked child: drop this store without touching the parent's connections."""
        self.closed = True
        for callback in self._on_close:
            callback()
        self._engine.dispose(close=False)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` first thing in ``close`` (e.g. to unsubscribe from the bus)."""
        self._on_close.append(callback)

    def list_flow_runs(
        self, limit: int = 50, state: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        """Flow runs, newest first; ``state`` is a state name or type, ``name`` a flow or
        run name."""
        return self._read(_reads.list_flow_runs, limit, state, name)

    def read_flow_run(self, run_id: str) -> dict[str, Any]:
        """A flow run with its ``task_runs`` in creation order; ``RunNotFound`` if none."""
        return self._read(_reads.read_flow_run, run_id)

    def read_task_run(self, run_id: str) -> dict[str, Any]:
        """A task run; ``RunNotFound`` if none has this id."""
        return self._read(_reads.read_task_run, run_id)

    def list_orphan_task_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Task runs called outside any flow, newest first."""
        return self._read(_reads.list_orphan_task_runs, limit)

    def read_history(self, run_id: str) -> list[dict[str, Any]]:
        """Every state of a flow or task run, oldest first."""
        return self._read(_reads.read_history, run_id)

    def read_logs(self, run_id: str, include_task_runs: bool = True) -> list[dict[str, Any]]:
        """Log lines of a flow run (and of its task runs) or of a task run, in order."""
        return self._read(_reads.read_logs, run_id, include_task_runs)

    def find_runs(self, prefix: str, limit: int = 20) -> list[str]:
        """Ids of the flow runs, then task runs, starting with ``prefix`` (like git)."""
        return self._read(_reads.find_runs, prefix, limit)

    def lookup_result(self, cache_key: str) -> dict[str, Any] | None:
        """The latest unexpired result stored under ``cache_key``, if any."""
        return self._read(_reads.lookup_result, cache_key)

    def _read(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            connection = self._engine.connect()
        except DBAPIError as error:
            raise unavailable(self._engine, error) from error
        with connection:
            try:
                return query(connection, *args, **kwargs)
            except DBAPIError as error:
                if error.connection_invalidated:  # the server went away mid-query
                    raise unavailable(self._engine, error) from error
                raise
