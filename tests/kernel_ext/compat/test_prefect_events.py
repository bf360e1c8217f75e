"""Events as Prefect 3 emits them (tests/events/client/test_events_emit_event.py, in our
words): ``emit_event`` returns the event it sent, a ``follows`` only within five minutes,
an event that is not valid is not sent (None, never an exception in the flow), and one over
the size limit raises ``EventTooLarge``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def test_emit_event_returns_the_event_with_what_was_given(pf: Any) -> None:
    occurred = datetime.now(UTC)
    event = pf.events.emit_event(
        event="vogon.poetry.read",
        resource={"prefect.resource.id": "vogon.poem.oh-freddled-gruntbuggly"},
        occurred=occurred,
        related=[{"prefect.resource.id": "vogon.ship.1", "prefect.resource.role": "ship"}],
        payload={"lines": 3},
        id=uuid.UUID("00000000-0000-4000-8000-00000000beef"),
    )
    assert event is not None
    assert event.event == "vogon.poetry.read"
    assert event.resource.id == "vogon.poem.oh-freddled-gruntbuggly"
    assert event.related[0].role == "ship"
    assert event.payload == {"lines": 3}
    assert event.id == uuid.UUID("00000000-0000-4000-8000-00000000beef")
    assert event.occurred == occurred


def test_a_follows_is_kept_only_within_five_minutes(pf: Any) -> None:
    resource = {"prefect.resource.id": "my.resource"}
    first = pf.events.emit_event("first", resource)
    assert first is not None
    close = pf.events.emit_event("close", resource, follows=first)
    far = pf.events.emit_event(
        "far", resource, occurred=first.occurred + timedelta(minutes=6), follows=first
    )
    assert close is not None and close.follows == first.id
    assert far is not None and far.follows is None


def test_an_event_without_a_resource_id_is_not_sent(pf: Any) -> None:
    assert pf.events.emit_event("nameless", {"prefect.resource.name": "no id"}) is None


def test_an_event_over_the_size_limit_raises_event_too_large(pf: Any) -> None:
    with pytest.raises(pf.exceptions.EventTooLarge):
        pf.events.emit_event(
            "huge", {"prefect.resource.id": "huge"}, payload={"data": "x" * 2_000_000}
        )
