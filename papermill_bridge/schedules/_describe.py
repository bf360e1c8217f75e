"""Schedules in words: ``every day at 06:00 (Europe/Berlin)``, ``every 15 minutes``.

The common shapes get a sentence; anything else falls back to the expression itself,
``cron "<expression>" (<time zone>)``, which is exact if less friendly. Times of day are
local to the schedule's time zone, which is named whenever a time of day is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from papermill_bridge.schedules._cron_fields import MONTH_NAMES, WEEKDAY_NAMES, CronFields

__all__ = ["describe_cron", "describe_interval"]

_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(7))
_MAX_TIMES = 6  # more times of day than this read better as the expression


def describe_cron(expression: str, fields: CronFields, timezone: str) -> str:
    """``fields`` (parsed from ``expression``) in words."""
    daily = _every_day(fields)
    if daily and (frequent := _frequent(fields, timezone)):
        return frequent
    times = _times_of_day(fields)
    days = "every day" if daily else _days(fields)
    if times is None or days is None:
        return f'cron "{expression}" ({timezone})'
    if days.startswith("every"):
        return f"{days} at {times} ({timezone})"
    return f"at {times} {days} ({timezone})"


def describe_interval(every: timedelta, anchor: datetime, timezone: str) -> str:
    """An interval in words; ``anchor`` (local) gives the time of day of whole-day ones."""
    seconds = every // timedelta(seconds=1)
    if seconds % 86400:
        for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
            if seconds % size == 0:
                return f"every {_count(seconds // size, unit)}"
    days = seconds // 86400
    clock = f"{anchor:%H:%M:%S}" if anchor.second else f"{anchor:%H:%M}"
    when = {1: "day", 7: WEEKDAY_NAMES[anchor.isoweekday() % 7]}.get(days, f"{days} days")
    return f"every {when} at {clock} ({timezone})"


def _count(number: int, unit: str) -> str:
    return unit if number == 1 else f"{number} {unit}s"


def _every_day(fields: CronFields) -> bool:
    if fields.months != _ALL_MONTHS:
        return False
    if fields.either_day:
        return _ALL_DAYS <= fields.days or fields.weekdays == _ALL_WEEKDAYS
    return _ALL_DAYS <= fields.days and fields.weekdays == _ALL_WEEKDAYS


def _frequent(fields: CronFields, timezone: str) -> str | None:
    minutes, hours = fields.minutes, fields.hours
    minute_step, hour_step = _step(minutes, 60), _step(hours, 24)
    if hour_step == 1 and minute_step is not None:
        return f"every {_count(minute_step, 'minute')}"
    if len(minutes) != 1 or hour_step is None:
        return None
    if hour_step == 1:
        return f"every hour at minute {minutes[0]}"
    return f"every {hour_step} hours at minute {minutes[0]} ({timezone})"


def _step(values: tuple[int, ...], cycle: int) -> int | None:
    # "every n": 0, n, 2n, ... evenly around the clock, so the gap is n across the hour too.
    if len(values) < 2 or values[0] != 0:
        return None
    step = values[1]
    return step if cycle % step == 0 and values == tuple(range(0, cycle, step)) else None


def _times_of_day(fields: CronFields) -> str | None:
    times = [f"{h:02d}:{m:02d}" for h in fields.hours for m in fields.minutes]
    return _join(times) if len(times) <= _MAX_TIMES else None


def _days(fields: CronFields) -> str | None:
    if fields.either_day:
        return None
    if _ALL_DAYS <= fields.days and fields.months == _ALL_MONTHS:
        return f"every {_weekdays(fields.weekdays)}"
    if fields.weekdays != _ALL_WEEKDAYS:
        return None
    months = [MONTH_NAMES[month - 1] for month in sorted(fields.months)]
    if _ALL_DAYS <= fields.days:
        return f"every day in {_join(months)}"
    days = sorted(fields.days)
    if fields.months == _ALL_MONTHS:
        return f"on {'day' if len(days) == 1 else 'days'} {_join(map(str, days))} of every month"
    if len(days) == 1 and len(months) == 1:
        return f"on {days[0]} {months[0]} every year"
    return f"on {'day' if len(days) == 1 else 'days'} {_join(map(str, days))} of {_join(months)}"


def _weekdays(weekdays: frozenset[int]) -> str:
    monday_first = sorted(weekdays, key=lambda day: (day - 1) % 7)
    if monday_first == [1, 2, 3, 4, 5]:
        return "weekday (Monday to Friday)"
    return _join(WEEKDAY_NAMES[day] for day in monday_first)


def _join(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
