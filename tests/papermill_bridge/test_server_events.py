"""Events through the REST API of a real Jupyter server, each answer checked against the
OpenAPI document by ``call``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from tests.papermill_bridge.test_server_api import call, server
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["server"]  # the fixture, imported for pytest to find

pytestmark = pytest.mark.slow

Server = tuple[str, Path]
API = "/taskbook/api"


def test_events_newest_first_then_polled_with_the_cursor(server: Server) -> None:
    from kernel_ext import flow
    from kernel_ext.events import emit_event

    url, home = server

    @flow(name="api-events")
    def api_events() -> None:
        emit_event("file.arrived", {"prefect.resource.id": "file.a"}, payload={"n": 1})

    with shared_store(home) as store:
        api_events()
        store.flush()
        status, page = call(url, "GET", f"{API}/events?limit=2")
        assert status == 200
        assert [e["event"] for e in page["events"]] == [
            "prefect.flow-run.Completed",
            "file.arrived",
        ]
        status, only = call(url, "GET", f"{API}/events?event=file.*")
        assert [e["payload"] for e in only["events"]] == [{"n": 1}]
        status, none_yet = call(url, "GET", f"{API}/events?after={page['cursor']}")
        assert (status, none_yet["events"]) == (200, [])
        emit_event("file.arrived", {"prefect.resource.id": "file.b"})
        store.flush()
        status, polled = call(url, "GET", f"{API}/events?after={page['cursor']}")
        assert [e["resource"]["prefect.resource.id"] for e in polled["events"]] == ["file.b"]
        status, again = call(url, "GET", f"{API}/events?after={polled['cursor']}")
        assert again["events"] == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=x", "since=yesterday", "after=12", f"after={quote('1:x')}"]
)
def test_a_bad_query_is_a_400_that_says_why(server: Server, query: str) -> None:
    url, _ = server
    status, body = call(url, "GET", f"{API}/events?{query}")
    assert status == 400 and body["message"]
