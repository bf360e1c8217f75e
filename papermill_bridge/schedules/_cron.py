"""Cron schedules: a five-field expression evaluated in the wall time of a time zone.

The expression is matched against local wall-clock time in ``timezone``; the instants it
names are found day by day. On a day the clocks change, the hour field decides (the rule
of ``_wallclock``, in the spirit of Vixie cron's fixed-time and wildcard jobs):

- hours pinned (``30 2 * * *``, ``0 9-17 * * *``): each matching wall time runs once. One
  that does not exist (02:30 when clocks jump 02:00 -> 03:00) runs at the first instant
  after the gap (03:00 local); one that happens twice (01:30 when clocks fall back from
  02:00 to 01:00) runs at its first occurrence only.
- hour field starting with ``*`` (``0 * * * *``, ``*/15 * * * *``, ``0 */2 * * *``): the
  job follows elapsed time and runs at every instant whose wall time matches. In the
  repeated hour it runs in both passes (``0 * * * *`` runs 25 times that day); wall times
  in the gap never occur, so nothing runs for them (23 runs on the short day).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

from papermill_bridge.schedules._cron_fields import CronFields, parse_cron
from papermill_bridge.schedules._describe import describe_cron
from papermill_bridge.schedules._wallclock import (
    as_utc,
    load_zone,
    matching_instants,
    pinned_instant,
    steady_offset,
)

__all__ = ["CronSchedule"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression in a time zone: finds the instants it names, describes itself."""

    expression: str
    timezone: str = "UTC"
    _fields: CronFields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _times: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = parse_cron(self.expression)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_zone", load_zone(self.timezone))
        times = (timedelta(hours=h, minutes=m) for h in fields.hours for m in fields.minutes)
        object.__setattr__(self, "_times", tuple(times))

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (aware), in UTC."""
        return next(self._slots_after(as_utc(moment, "next_after(moment)")))

    def slots_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The slots with ``start < slot <= end``, oldest first, in UTC."""
        start = as_utc(start, "slots_between(start)")
        end = as_utc(end, "slots_between(end)")
        return takewhile(lambda slot: slot <= end, self._slots_after(start))

    def describe(self) -> str:
        """In words: ``every day at 06:00 (Europe/Berlin)``."""
        return describe_cron(self.expression, self._fields, self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that ``schedule_from_dict`` turns back into this schedule."""
        return {"kind": "cron", "expression": self.expression, "timezone": self.timezone}

    def _slots_after(self, moment: datetime) -> Iterator[datetime]:
        # Start a day early: a wall time of the day before may name an instant after
        # ``moment`` (a repeated hour, a gap that ends after midnight).
        latest = moment
        for day in self._days_from(moment.astimezone(self._zone).date() - _DAY):
            for slot in self._slots_on(day, latest):
                if slot > latest:
                    latest = slot
                    yield slot

    def _days_from(self, day: date) -> Iterator[date]:
        # Never endless: parse_cron refuses expressions that match no date.
        while True:
            if day.month not in self._fields.months:
                day = (day.replace(day=1) + 32 * _DAY).replace(day=1)
                continue
            if self._fields.matches_day(day):
                yield day
            day += _DAY

    def _slots_on(self, day: date, after: datetime) -> Iterator[datetime]:
        midnight = datetime.combine(day, datetime.min.time())
        offset = steady_offset(day, self._zone)
        if offset is not None:  # the usual day: one instant per wall time, in order
            first = bisect_right(self._times, after.replace(tzinfo=None) + offset - midnight)
            times = self._times[first:]
            return ((midnight + time - offset).replace(tzinfo=UTC) for time in times)
        walls = [midnight + time for time in self._times]
        if self._fields.hourly_or_finer:
            return iter(sorted({i for wall in walls for i in matching_instants(wall, self._zone)}))
        return iter(sorted({pinned_instant(wall, self._zone) for wall in walls}))
