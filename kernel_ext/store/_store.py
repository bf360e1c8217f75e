"""The Store: one database, its background writer, the reads over it, and input requests.

The deployment methods (promotions, schedules, claims, heartbeats) come from
``DeploymentApi``; every query runs in a transaction of its own (``Transactions``), and
each method imports its query module when first called (see ``_transactions``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from kernel_ext._errors import StoreError
from kernel_ext._events import EmittedEvent, Event
from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext.store._artifacts_api import ArtifactsApi
from kernel_ext.store._automations_api import AutomationsApi
from kernel_ext.store._deployment_api import DeploymentApi
from kernel_ext.store._engine import create_store_engine
from kernel_ext.store._events_api import EventsApi
from kernel_ext.store._limits_api import LimitsApi
from kernel_ext.store._liveness_api import LivenessApi
from kernel_ext.store._metrics_api import MetricsApi
from kernel_ext.store._retention_api import RetentionApi
from kernel_ext.store._schema import migrate
from kernel_ext.store._urls import mask
from kernel_ext.store._vault_api import VaultApi
from kernel_ext.store._writer import WAKE_AT, FlushTicket, Writer
from kernel_ext.store.records import (
    FlowRunDetail,
    FlowRunRecord,
    InputRequestRecord,
    LogRecord,
    ResultRecord,
    StateRecord,
    TaskRunDetail,
    TaskRunRecord,
)

__all__ = ["Store"]


class Store(
    DeploymentApi,
    LimitsApi,
    LivenessApi,
    VaultApi,
    ArtifactsApi,
    MetricsApi,
    RetentionApi,
    EventsApi,
    AutomationsApi,
):
    """The state store at one URL: takes the engine's events, answers the readers.

    Opening it creates the database if needed, migrates it, and starts the writer
    thread. ``submit`` is the engine's hot path (any thread, no I/O); the reads see what
    the writer has committed, so ``flush()`` first to include this process's latest
    events. Use ``get_store()`` rather than this class directly: it shares one store per
    process and subscribes it to the engine's events.

    Input requests of paused runs bypass the writer: each call is its own committed
    transaction, seen at once by every process (see ``_input_requests``). So do deployments,
    schedules and the scheduler's and workers' changes to runs (see ``DeploymentApi``),
    concurrency and rate limits (see ``LimitsApi``), secrets and variables (see
    ``VaultApi``), and pruning to the retention policies (see ``RetentionApi``).
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
    def shared(self) -> bool:
        """Whether the store is a server's (PostgreSQL), shared by several machines."""
        return self._engine.dialect.name != "sqlite"

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

    def submit_event(self, event: Any) -> None:
        """Queue a custom event (``kernel_ext.events.Event``) for the writer, like a state."""
        self.submit(EmittedEvent(event))

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
        self,
        limit: int = 50,
        state: str | None = None,
        name: str | None = None,
        *,
        search: str | None = None,
        tag: str | None = None,
        deployment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        top_level: bool = False,
        before: str | None = None,
        parent: FlowRunId | None = None,
        ended_since: datetime | None = None,
    ) -> list[FlowRunRecord]:
        """Flow runs, newest first, that meet every condition given.

        ``state`` is a state name or type (any case); ``name`` a flow or run name;
        ``search`` a part of either (any case); ``tag`` one of the run's tags;
        ``deployment`` a deployment's name or id; ``since``/``until`` bound its creation
        time (aware datetimes); ``top_level`` leaves subflows out; ``before`` is the id
        of the last run of the previous page; ``parent`` a flow run's id, whose subflows
        (the flow runs its task runs called) are listed; ``ended_since`` keeps the runs
        that ended at or after it. ``RunNotFound`` if ``before`` or ``parent`` names no
        flow run.
        """
        from kernel_ext.store import _reads

        where = _reads.RunFilter(
            state,
            name,
            search,
            tag,
            deployment,
            since,
            until,
            top_level,
            before,
            parent,
            ended_since,
        )
        return self._read(_reads.list_flow_runs, limit, where)

    def read_flow_run(self, run_id: FlowRunId, changed_after: int | None = None) -> FlowRunDetail:
        """A flow run with its ``task_runs`` in creation order; ``RunNotFound`` if none.

        With ``changed_after`` (a ``task_runs_cursor`` an earlier read gave), ``task_runs``
        holds only those whose state changed since (and a few before: merge them by id),
        and ``task_runs_complete`` is False: a console follows a big run cheaply."""
        from kernel_ext.store import _reads

        return self._read(_reads.read_flow_run, run_id, changed_after)

    def list_task_runs(self, flow_run_id: FlowRunId) -> list[TaskRunRecord]:
        """The task runs of a flow run as committed now, even before the flow run's own
        row is (those that Dask workers wrote, say)."""
        from kernel_ext.store import _reads

        return self._read(_reads.list_task_runs, flow_run_id)

    def read_task_run(self, run_id: TaskRunId) -> TaskRunDetail:
        """A task run; ``RunNotFound`` if none has this id."""
        from kernel_ext.store import _reads

        return self._read(_reads.read_task_run, run_id)

    def list_orphan_task_runs(self, limit: int = 50) -> list[TaskRunRecord]:
        """Task runs called outside any flow, newest first."""
        from kernel_ext.store import _reads

        return self._read(_reads.list_orphan_task_runs, limit)

    def read_history(self, run_id: FlowRunId | TaskRunId) -> list[StateRecord]:
        """Every state of a flow or task run, oldest first."""
        from kernel_ext.store import _reads

        return self._read(_reads.read_history, run_id)

    def read_logs(
        self,
        run_id: FlowRunId | TaskRunId,
        include_task_runs: bool = True,
        *,
        after: int | None = None,
        tail: int | None = None,
        min_level: int | None = None,
        limit: int | None = None,
    ) -> list[LogRecord]:
        """Log lines of a flow run (and of its task runs) or of a task run, in order.

        ``after`` (the ``id`` of the last line seen) reads only the lines written since,
        in the order they were written; ``tail`` only the last ``tail`` lines;
        ``limit`` only the first ``limit``; ``min_level`` (``logging.WARNING``) only
        lines at that level or above. So a console follows a run by asking for its tail
        once, then for the first lines after the newest it has, again while a read
        comes back full.
        """
        from kernel_ext.store import _reads

        return self._read(
            _reads.read_logs, run_id, include_task_runs, after, tail, min_level, limit
        )

    def find_runs(self, prefix: str, limit: int = 20) -> list[str]:
        """Ids of the flow runs, then task runs, starting with ``prefix`` (like git)."""
        from kernel_ext.store import _reads

        return self._read(_reads.find_runs, prefix, limit)

    def lookup_result(self, cache_key: str) -> ResultRecord | None:
        """The latest unexpired result stored under ``cache_key``, if any."""
        from kernel_ext.store import _reads

        return self._read(_reads.lookup_result, cache_key)

    def create_input_request(
        self,
        *,
        id: str,
        flow_run_id: FlowRunId,
        key: str,
        schema: dict[str, Any],
        description: str | None = None,
        timeout_at: float | None = None,
    ) -> InputRequestRecord:
        """Store the form a run waits on (status ``"pending"``); ``timeout_at`` is epoch
        seconds.

        If the run already has a request at ``key`` (it was re-executed and paused
        again), that one is returned unchanged, with its answer if it has one.
        """
        from kernel_ext.store import _input_requests

        return self._write(
            _input_requests.create_input_request,
            id=id,
            flow_run_id=flow_run_id,
            key=key,
            schema=schema,
            description=description,
            timeout_at=timeout_at,
        )

    def read_input_request(self, request_id: str) -> InputRequestRecord:
        """An input request; ``InputNotFound`` if none has this id."""
        from kernel_ext.store import _input_requests

        return self._read(_input_requests.read_input_request, request_id)

    def find_input_request(self, flow_run_id: FlowRunId, key: str) -> InputRequestRecord | None:
        """The input request of ``flow_run_id`` at ``key``, if it has one."""
        from kernel_ext.store import _input_requests

        return self._read(_input_requests.find_input_request, flow_run_id, key)

    def list_input_requests(
        self,
        status: str | None = "pending",
        flow_run_id: FlowRunId | None = None,
        limit: int = 100,
    ) -> list[InputRequestRecord]:
        """Input requests, newest first, with their flow run's name, flow and state;
        ``status=None`` lists them all."""
        from kernel_ext.store import _input_requests

        return self._read(_input_requests.list_input_requests, status, flow_run_id, limit)

    def list_overdue_input_requests(self, now: float, limit: int = 100) -> list[InputRequestRecord]:
        """Pending requests whose ``timeout_at`` has passed (for the scheduler to expire)."""
        from kernel_ext.store import _input_requests

        return self._read(_input_requests.list_overdue_input_requests, now, limit)

    def answer_input_request(
        self, request_id: str, answer: dict[str, Any], answered_by: str
    ) -> InputRequestRecord:
        """Answer a pending request; ``InputAlreadyAnswered`` if it is not pending any
        more (whoever came first wins) or its timeout has passed (it is expired then),
        ``InputNotFound`` if there is no such request."""
        from kernel_ext.store import _input_requests

        return self._write(_input_requests.answer_input_request, request_id, answer, answered_by)

    def reject_input_request(
        self, request_id: str, answered_by: str, reason: str | None = None
    ) -> InputRequestRecord:
        """Reject a pending request; its answer becomes ``{"reason": reason}``. Raises like
        ``answer_input_request``."""
        from kernel_ext.store import _input_requests

        return self._write(_input_requests.reject_input_request, request_id, answered_by, reason)

    def expire_input_request(self, request_id: str) -> InputRequestRecord:
        """Expire a pending request; returns the request, answered or not."""
        from kernel_ext.store import _input_requests

        return self._write(_input_requests.expire_input_request, request_id)

    def expire_pause(self, request_id: str) -> InputRequestRecord:
        """Expire a request past its timeout and fail its Suspended run, in one
        transaction; returns the request."""
        from kernel_ext.store import _input_requests

        return self._write(_input_requests.expire_pause, request_id)

    def record_input_error(self, request_id: str, message: str) -> InputRequestRecord:
        """Keep why an answer was refused, for the form to show; only while pending."""
        from kernel_ext.store import _input_requests

        return self._write(_input_requests.record_input_error, request_id, message)
