"""Interval schedules: a slot every ``every``, counted from an ``anchor``.

Slots are ``anchor + k * every`` for every whole number ``k``, negative ones included
(slots before the anchor exist too). How the arithmetic is done depends on the interval:

- shorter than a day, or not a whole number of days (``15m``, ``2h``, ``36h``): in absolute
  time (UTC). A daylight-saving change does not move the slots, so an every-2-hours job
  stays two hours apart while its local times shift by an hour.
- a whole number of days (``1d``, ``7d``, also ``48h``): in the wall time of ``timezone``.
  The slots keep the anchor's local time of day across daylight-saving changes, so a daily
  06:00 Europe/Berlin job stays at 06:00 local, 23 or 25 hours apart on the change days.
  A time of day that a change skips or repeats is treated like a pinned cron time: it runs
  at the end of the gap, or at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

from kernel_ext._durations import MAX_SECONDS
from kernel_ext._errors import ConfigurationError
from papermill_bridge.schedules._describe import describe_interval
from papermill_bridge.schedules._wallclock import as_utc, load_zone, pinned_instant

__all__ = ["IntervalSchedule", "default_anchor", "parse_interval"]

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_UNITS = re.compile(
    r"(?:(?P<d>[0-9]+)\s*d)?\s*(?:(?P<h>[0-9]+)\s*h)?\s*(?:(?P<m>[0-9]+)\s*m)?\s*"
    r"(?:(?P<s>[0-9]+)\s*s)?",
    re.IGNORECASE,
)
_FORMS = (
    "write a whole number with a unit, e.g. '90s', '15m', '2h', '1d', '1h30m', or seconds '900'"
)


def parse_interval(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` or plain seconds ``"900"``."""
    if not isinstance(text, str):
        raise ConfigurationError(f"an interval must be a string ({_FORMS}), got {text!r}.")
    stripped = text.strip()
    match = _UNITS.fullmatch(stripped)
    if stripped.isascii() and stripped.isdigit():
        every = _timedelta(0, 0, 0, int(stripped), text)
    elif stripped and match:
        amounts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
        every = _timedelta(amounts["d"], amounts["h"], amounts["m"], amounts["s"], text)
    else:
        raise ConfigurationError(f"interval {text!r} is not understood; {_FORMS}.")
    if not every:
        raise ConfigurationError(f"interval {text!r} is zero; it must be at least 1 second.")
    return every


def _timedelta(days: int, hours: int, minutes: int, seconds: int, text: str) -> timedelta:
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_SECONDS:
        raise ConfigurationError(
            f"interval {text!r} is longer than ten years; use a cron "
            "schedule or a shorter interval."
        )
    return timedelta(seconds=total)


def default_anchor(timezone: str) -> datetime:
    """Midnight of Monday 1 January 2001 in ``timezone``: slots start at round local times."""
    return datetime(2001, 1, 1, tzinfo=load_zone(timezone))


@dataclass(frozen=True)
class IntervalSchedule:
    """A slot every ``every`` from ``anchor`` (aware); whole days keep the local time."""

    every: timedelta
    anchor: datetime
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_every(self.every)
        as_utc(self.anchor, "anchor")
        object.__setattr__(self, "_zone", load_zone(self.timezone))

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (aware), in UTC."""
        moment = as_utc(moment, "next_after(moment)")
        if self.every % _DAY:
            anchor = self.anchor.astimezone(UTC)
            return anchor + ((moment - anchor) // self.every + 1) * self.every
        return self._next_by_wall_time(moment, self.every // _DAY)

    def slots_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The slots with ``start < slot <= end``, oldest first, in UTC."""
        start = as_utc(start, "slots_between(start)")
        end = as_utc(end, "slots_between(end)")
        return takewhile(lambda slot: slot <= end, self._slots_after(start))

    def describe(self) -> str:
        """In words: ``every 15 minutes``, ``every day at 06:00 (Europe/Berlin)``."""
        return describe_interval(self.every, self.anchor.astimezone(self._zone), self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that ``schedule_from_dict`` turns back into this schedule."""
        return {
            "kind": "interval",
            "every_seconds": self.every // _SECOND,
            "anchor": self.anchor.astimezone(UTC).isoformat(),
            "timezone": self.timezone,
        }

    def _slots_after(self, start: datetime) -> Iterator[datetime]:
        slot = self.next_after(start)
        while True:
            yield slot
            slot = self.next_after(slot)

    def _next_by_wall_time(self, moment: datetime, days: int) -> datetime:
        wall = self.anchor.astimezone(self._zone).replace(tzinfo=None)
        elapsed = (moment.astimezone(self._zone).date() - wall.date()).days
        step = elapsed // days - 1  # a slot or two before ``moment``: walk up from there
        while (slot := pinned_instant(wall + step * days * _DAY, self._zone)) <= moment:
            step += 1
        return slot


def _check_every(every: timedelta) -> None:
    if not isinstance(every, timedelta):
        raise ConfigurationError(
            f"every must be a timedelta, got {every!r}; pass e.g. timedelta(minutes=15), "
            "or parse_schedule(interval='15m')."
        )
    if every < _SECOND or every % _SECOND:
        raise ConfigurationError(
            f"every must be a whole number of seconds, at least 1, got {every!r}."
        )
