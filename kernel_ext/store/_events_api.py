"""The store's event reads: what ``taskbook events ls``, the REST API and the
automations' evaluator see (state changes and recorded events alike, see
``_event_reads``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import EventRow

__all__ = ["EventsApi"]


class EventsApi(Transactions):
    """Events, newest first, or past a cursor for following them."""

    def list_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        names: Sequence[str] = (),
        resource: str | None = None,
        limit: int = 100,
    ) -> list[EventRow]:
        """Events newest first: ``names`` are event-name patterns (``prefect.flow-run.*``,
        ``!prefect.task-run.*``), ``resource`` a resource-id pattern."""
        from kernel_ext.store import _event_reads

        return self._read(
            _event_reads.list_events,
            since=since,
            until=until,
            names=names,
            resource=resource,
            limit=limit,
        )

    def events_after(
        self,
        cursor: tuple[int, int],
        *,
        names: Sequence[str] = (),
        resource: str | None = None,
        limit: int = 1000,
    ) -> tuple[list[EventRow], tuple[int, int]]:
        """Events past ``cursor`` (a history id and an event seq, as ``event_cursor``
        returns), oldest first, and the cursor to go on from: what ``--follow`` prints
        next. (On PostgreSQL a transaction can commit rows behind a cursor already
        passed; the automations' evaluator waits for those, a follower does not.)"""
        from kernel_ext.store import _event_reads

        return self._read(
            _event_reads.events_page, cursor, names=names, resource=resource, limit=limit
        )

    def event_cursor(self) -> tuple[int, int]:
        """Where the event streams end now: follow from here."""
        from kernel_ext.store import _event_reads

        return self._read(_event_reads.stream_ends)
