"""Building schedules: from the options a user gives, and from their stored dicts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from kernel_ext._durations import MAX_SECONDS
from kernel_ext._errors import ConfigurationError
from papermill_bridge.schedules._cron import CronSchedule
from papermill_bridge.schedules._interval import IntervalSchedule, default_anchor, parse_interval

__all__ = ["parse_schedule", "schedule_from_dict"]

T = TypeVar("T")


def parse_schedule(
    *,
    cron: str | None = None,
    interval: str | timedelta | None = None,
    timezone: str = "UTC",
    anchor: datetime | None = None,
) -> CronSchedule | IntervalSchedule:
    """A schedule from ``cron="0 6 * * *"`` or ``interval="15m"`` (exactly one of them).

    ``anchor`` (interval only) is an aware instant that is a slot; by default midnight of
    Monday 1 January 2001 in ``timezone``, so "15m" runs at :00, :15, ... and "1d" at
    local midnight.
    """
    if cron is not None and interval is not None:
        raise ConfigurationError("give cron= or interval=, not both.")
    if cron is not None:
        if anchor is not None:
            raise ConfigurationError("anchor= applies to interval schedules only; drop it.")
        return CronSchedule(cron, timezone)
    if interval is None:
        raise ConfigurationError(
            "give a schedule: cron= (e.g. '0 6 * * *') or interval= (e.g. '15m')."
        )
    every = parse_interval(interval) if isinstance(interval, str) else interval
    return IntervalSchedule(every, default_anchor(timezone) if anchor is None else anchor, timezone)


def schedule_from_dict(data: dict[str, Any]) -> CronSchedule | IntervalSchedule:
    """The schedule that ``to_dict()`` wrote ``data`` from."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"a schedule dict must be a dict from to_dict(), got {data!r}.")
    kind = data.get("kind")
    timezone = _field(data, "timezone", str, "UTC")
    if kind == "cron":
        return CronSchedule(_field(data, "expression", str), timezone)
    if kind == "interval":
        seconds = _field(data, "every_seconds", int)
        if not 1 <= seconds <= MAX_SECONDS:
            raise ConfigurationError(
                f"schedule dict's every_seconds is {seconds}; an interval is from 1 second "
                "to ten years."
            )
        every = timedelta(seconds=seconds)
        return IntervalSchedule(every, _anchor(_field(data, "anchor", str)), timezone)
    raise ConfigurationError(
        f"schedule dict has kind {kind!r}; expected 'cron' or 'interval', as to_dict() writes."
    )


def _field(data: dict[str, Any], key: str, kind: type[T], default: T | None = None) -> T:
    value = data.get(key, default)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigurationError(
            f"schedule dict needs {key!r} as {kind.__name__}, got {value!r}; "
            "store what to_dict() returns."
        )
    return value


def _anchor(text: str) -> datetime:
    try:
        anchor = datetime.fromisoformat(text)
    except ValueError:
        anchor = None
    if anchor is None or anchor.utcoffset() is None:
        raise ConfigurationError(
            f"schedule dict has anchor {text!r}; expected an ISO 8601 time with offset, "
            "e.g. '2026-01-01T06:00:00+00:00'."
        )
    return anchor
