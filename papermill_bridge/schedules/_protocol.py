"""What the scheduler needs of a schedule, whatever its kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Schedule"]


class Schedule(Protocol):
    """A rule naming the instants ("slots") at which a deployment runs.

    Every datetime going in must be timezone-aware; every one coming out is in UTC.
    """

    @property
    def timezone(self) -> str:
        """The IANA time zone whose wall time the schedule is written in."""
        ...

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        ...

    def slots_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The slots with ``start < slot <= end``, oldest first."""
        ...

    def describe(self) -> str:
        """The schedule in words, for people."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that ``schedule_from_dict`` turns back into this schedule."""
        ...
