"""Local wall-clock times and the UTC instants they name, across daylight-saving changes.

Schedules are written in wall time ("06:00 in Europe/Berlin") but run at instants. Most
wall times name exactly one instant; on the days the clocks change, some name none and
some name two:

- spring forward (Europe/Berlin, 29 March 2026, 02:00 -> 03:00): 02:30 does not exist;
- fall back (Europe/Berlin, 25 October 2026, 03:00 -> 02:00): 02:30 happens twice.

``pinned_instant`` is the rule for a job pinned to a wall time: a wall time in a gap runs
once, at the first instant after the gap (03:00 local); a repeated one runs once, at its
first occurrence (``fold=0``). ``matching_instants`` is the rule for a job that follows
elapsed time: every instant whose wall time is the one given (none in a gap, two in a
repeated hour).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from kernel_ext._errors import ConfigurationError

__all__ = ["as_utc", "load_zone", "matching_instants", "pinned_instant", "steady_offset"]

_SECOND = timedelta(seconds=1)


def load_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a ConfigurationError that suggests a name if unknown."""
    if not isinstance(name, str):
        raise ConfigurationError(
            f"timezone must be an IANA name such as 'Europe/Berlin' or 'UTC', got {name!r}."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigurationError(_unknown_zone_message(name)) from None


def _unknown_zone_message(name: str) -> str:
    wanted = name.strip().lower().replace(" ", "_")
    close = sorted(
        zone
        for zone in available_timezones()
        if zone.lower() == wanted or zone.lower().endswith("/" + wanted)
    )
    hint = f" Did you mean {' or '.join(map(repr, close[:3]))}?" if close else ""
    return (
        f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin', "
        f"'America/New_York' or 'UTC'.{hint}"
    )


def as_utc(moment: datetime, what: str) -> datetime:
    """``moment`` in UTC; naive datetimes are refused, since their instant is unknown."""
    if not isinstance(moment, datetime):
        raise ConfigurationError(f"{what} must be a datetime, got {moment!r}.")
    if moment.utcoffset() is None:
        raise ConfigurationError(
            f"{what} must be timezone-aware, got the naive {moment.isoformat()}; "
            "pass e.g. datetime(2026, 1, 1, tzinfo=UTC) or datetime.now(UTC)."
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first UTC moment
        raise ConfigurationError(
            f"{what} {moment.isoformat()} is out of range; give a time after the year 1."
        ) from None


def matching_instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant whose local time in ``zone`` is the naive ``wall``, oldest first."""
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        # zoneinfo also answers for wall times that do not exist: keep round trips only.
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return found


def pinned_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a job pinned to ``wall`` runs: its first occurrence, or the gap's end."""
    found = matching_instants(wall, zone)
    return found[0] if found else _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    # A wall time in a gap read with the offset from before the change (fold=0) lands
    # after the change, read with the offset from after it (fold=1) before: the change
    # is the first instant in between whose offset is the new one.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    new_offset = high.astimezone(zone).utcoffset()
    while high - low > _SECOND:
        middle = low + ((high - low) // _SECOND // 2) * _SECOND
        if middle.astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return high


def steady_offset(day: date, zone: ZoneInfo) -> timedelta | None:
    """The UTC offset of ``day`` in ``zone`` if the clocks do not change that day, else None.

    On such a day every wall time names exactly one instant: wall time minus the offset.
    """
    midnight = datetime.combine(day, time())
    offsets = {zone.utcoffset(midnight + timedelta(hours=hour)) for hour in range(25)}
    return offsets.pop() if len(offsets) == 1 else None
