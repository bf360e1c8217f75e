"""Events: state changes, deployment changes, answers and what flows emit.

    GET  events?event=&resource=&since=&limit=   newest first, with a cursor
    GET  events?after=CURSOR                     the events since that cursor, oldest first

``event`` may be repeated; it and ``resource`` take Prefect's patterns (``*`` at the end
for a prefix, ``!`` in front to exclude). ``since`` is an ISO-8601 time. The answer is
``{"events": [...], "cursor": "H:E"}``: pass ``cursor`` back as ``after`` to poll for
what came next. Paths are relative to /taskbook/api/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext.store import get_store
from papermill_bridge.server._base import BadRequest, TaskbookHandler, query_limit

__all__ = ["ROUTES"]

_CURSOR = re.compile(r"(\d{1,18}):(\d{1,18})")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"since must be an ISO-8601 time, got {text!r}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _cursor(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    found = _CURSOR.fullmatch(text)
    if found is None:
        raise BadRequest(f"after must be a cursor this endpoint returned (H:E), got {text!r}.")
    return int(found.group(1)), int(found.group(2))


class EventsHandler(TaskbookHandler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        names = self.get_query_arguments("event")
        resource = self.get_query_argument("resource", None)
        limit = self.get_query_argument("limit", None)
        since = self.get_query_argument("since", None)
        after = self.get_query_argument("after", None)

        def read() -> dict[str, Any]:
            store = get_store()
            cursor = _cursor(after)
            if cursor is None:
                ends = store.event_cursor()  # first: what commits meanwhile comes next
                rows = store.list_events(
                    since=_since(since),
                    names=names,
                    resource=resource,
                    limit=query_limit(limit, 100),
                )
            else:
                rows, ends = store.events_after(
                    cursor, names=names, resource=resource, limit=query_limit(limit, 100)
                )
            return {
                "events": [row.event.to_json() for row in rows],
                "cursor": f"{ends[0]}:{ends[1]}",
            }

        self.respond(read)


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [(r"events", EventsHandler)]
