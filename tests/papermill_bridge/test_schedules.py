"""Schedules: cron and interval slots, daylight-saving changes, catch-up, words, round trips.

Daylight-saving dates used (2026): Europe changes on 29 March (02:00 -> 03:00, at 01:00
UTC) and 25 October (03:00 -> 02:00, at 01:00 UTC); the US on 8 March (02:00 -> 03:00, at
07:00 UTC) and 1 November (02:00 -> 01:00, at 06:00 UTC).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import papermill_bridge.schedules as schedules
from kernel_ext._errors import ConfigurationError
from papermill_bridge.schedules import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    due_slots,
    parse_interval,
    parse_schedule,
    schedule_from_dict,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"


def utc(text: str) -> datetime:
    """``"2026-03-29T01:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def hourly(first: str, count: int) -> list[datetime]:
    return [utc(first) + timedelta(hours=n) for n in range(count)]


def test_public_names() -> None:
    assert sorted(schedules.__all__) == [
        "CronSchedule",
        "IntervalSchedule",
        "Schedule",
        "due_slots",
        "parse_interval",
        "parse_schedule",
        "schedule_from_dict",
    ]


def test_both_kinds_are_schedules() -> None:
    kinds: list[Schedule] = [CronSchedule("0 6 * * *"), parse_schedule(interval="15m")]
    assert [kind.timezone for kind in kinds] == ["UTC", "UTC"]


# -- cron: next_after -------------------------------------------------------------------

NEXT_AFTER = [
    ("daily", "0 6 * * *", "UTC", "2026-01-01T05:00", "2026-01-01T06:00"),
    ("strictly-after", "0 6 * * *", "UTC", "2026-01-01T06:00", "2026-01-02T06:00"),
    ("seconds-count", "0 6 * * *", "UTC", "2026-01-01T05:59:59", "2026-01-01T06:00"),
    ("every-minute", "* * * * *", "UTC", "2026-01-01T10:07:30", "2026-01-01T10:08"),
    ("every-15-minutes", "*/15 * * * *", "UTC", "2026-01-01T10:07", "2026-01-01T10:15"),
    ("hourly-at-5", "5 * * * *", "UTC", "2026-01-01T10:05", "2026-01-01T11:05"),
    ("list", "0,20,40 * * * *", "UTC", "2026-01-01T10:21", "2026-01-01T10:40"),
    ("range-step", "0 8-18/5 * * *", "UTC", "2026-01-01T09:00", "2026-01-01T13:00"),
    ("monday-name", "30 9 * * mon", "UTC", "2026-01-01T00:00", "2026-01-05T09:30"),
    ("weekday-range", "0 9 * * MON-FRI", "UTC", "2026-01-02T10:00", "2026-01-05T09:00"),
    ("sunday-0", "0 0 * * 0", "UTC", "2026-01-01T00:00", "2026-01-04T00:00"),
    ("sunday-7", "0 0 * * 7", "UTC", "2026-01-01T00:00", "2026-01-04T00:00"),
    ("weekend-5-7", "0 0 * * 6-7", "UTC", "2026-01-01T00:00", "2026-01-03T00:00"),
    ("month-names", "0 0 1 jan,JUL *", "UTC", "2026-02-01T00:00", "2026-07-01T00:00"),
    ("month-range", "0 0 1 mar-may *", "UTC", "2026-05-02T00:00", "2027-03-01T00:00"),
    ("leap-day", "0 0 29 2 *", "UTC", "2026-01-01T00:00", "2028-02-29T00:00"),
    ("day-31-skips-months", "0 0 31 * *", "UTC", "2026-04-01T00:00", "2026-05-31T00:00"),
    ("either-day-vixie", "0 12 13 * 5", "UTC", "2026-01-01T00:00", "2026-01-02T12:00"),
    ("either-day-the-13th", "0 12 13 * 5", "UTC", "2026-01-10T00:00", "2026-01-13T12:00"),
    ("star-day-means-both", "0 12 */2 * 5", "UTC", "2026-01-01T00:00", "2026-01-09T12:00"),
    ("macro-hourly", "@hourly", "UTC", "2026-01-01T10:30", "2026-01-01T11:00"),
    ("macro-daily", "@daily", "UTC", "2026-01-01T10:30", "2026-01-02T00:00"),
    ("macro-midnight", "@midnight", "UTC", "2026-01-01T10:30", "2026-01-02T00:00"),
    ("macro-weekly", "@weekly", "UTC", "2026-01-01T10:30", "2026-01-04T00:00"),
    ("macro-monthly", "@monthly", "UTC", "2026-01-01T10:30", "2026-02-01T00:00"),
    ("macro-yearly", "@yearly", "UTC", "2026-01-01T10:30", "2027-01-01T00:00"),
    ("macro-annually", "@ANNUALLY", "UTC", "2026-01-01T10:30", "2027-01-01T00:00"),
    ("berlin-winter", "0 6 * * *", BERLIN, "2026-01-10T00:00", "2026-01-10T05:00"),
    ("berlin-summer", "0 6 * * *", BERLIN, "2026-07-10T00:00", "2026-07-10T04:00"),
    ("new-york-winter", "0 9 * * *", NEW_YORK, "2026-01-10T00:00", "2026-01-10T14:00"),
    ("kolkata-offset", "0 * * * *", "Asia/Kolkata", "2026-01-10T00:00", "2026-01-10T00:30"),
    ("local-day-not-utc-day", "0 23 * * fri", NEW_YORK, "2026-01-01T00:00", "2026-01-03T04:00"),
    ("berlin-gap-next", "30 2 * * *", BERLIN, "2026-03-29T00:45", "2026-03-29T01:00"),
    ("berlin-repeat-next", "30 2 * * *", BERLIN, "2026-10-25T00:30", "2026-10-26T01:30"),
]


@pytest.mark.parametrize(
    ("expression", "zone", "moment", "expected"),
    [case[1:] for case in NEXT_AFTER],
    ids=[case[0] for case in NEXT_AFTER],
)
def test_cron_next_after(expression: str, zone: str, moment: str, expected: str) -> None:
    slot = CronSchedule(expression, zone).next_after(utc(moment))
    assert slot == utc(expected)
    assert slot.tzinfo is UTC


def test_next_after_takes_any_aware_moment() -> None:
    berlin_seven = local("2026-01-10T07:00", BERLIN)  # 06:00 UTC: the slot itself
    assert CronSchedule("0 6 * * *").next_after(berlin_seven) == utc("2026-01-11T06:00")


# -- cron: daylight-saving changes -----------------------------------------------------

DST = [
    (
        "berlin-spring-0230-runs-at-gap-end",
        "30 2 * * *",
        BERLIN,
        "2026-03-27T12:00",
        "2026-03-30T12:00",
        ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"],
    ),
    (
        "berlin-spring-0200-runs-at-gap-end",
        "0 2 * * *",
        BERLIN,
        "2026-03-28T12:00",
        "2026-03-29T12:00",
        ["2026-03-29T01:00"],
    ),
    (
        "berlin-spring-pinned-steps-run-once",
        "*/15 2 * * *",
        BERLIN,
        "2026-03-29T00:00",
        "2026-03-29T12:00",
        ["2026-03-29T01:00"],
    ),
    (
        "berlin-fall-0230-first-occurrence",
        "30 2 * * *",
        BERLIN,
        "2026-10-24T12:00",
        "2026-10-26T12:00",
        ["2026-10-25T00:30", "2026-10-26T01:30"],
    ),
    (
        "berlin-fall-0130-unaffected",
        "30 1 * * *",
        BERLIN,
        "2026-10-24T12:00",
        "2026-10-26T12:00",
        ["2026-10-24T23:30", "2026-10-26T00:30"],
    ),
    (
        "berlin-spring-half-past-hourly-skips-gap",
        "30 * * * *",
        BERLIN,
        "2026-03-29T00:00",
        "2026-03-29T02:00",
        ["2026-03-29T00:30", "2026-03-29T01:30"],
    ),
    (
        "berlin-fall-every-2-hours-both-passes",
        "0 */2 * * *",
        BERLIN,
        "2026-10-24T22:30",
        "2026-10-25T03:00",
        ["2026-10-25T00:00", "2026-10-25T01:00", "2026-10-25T03:00"],
    ),
    (
        "new-york-spring-0230-runs-at-gap-end",
        "30 2 * * *",
        NEW_YORK,
        "2026-03-07T12:00",
        "2026-03-09T12:00",
        ["2026-03-08T07:00", "2026-03-09T06:30"],
    ),
    (
        "new-york-fall-0130-first-occurrence",
        "30 1 * * *",
        NEW_YORK,
        "2026-10-31T12:00",
        "2026-11-02T12:00",
        ["2026-11-01T05:30", "2026-11-02T06:30"],
    ),
    (
        "new-york-fall-0230-unaffected",
        "30 2 * * *",
        NEW_YORK,
        "2026-10-31T12:00",
        "2026-11-01T12:00",
        ["2026-11-01T07:30"],
    ),
    (
        "new-york-fall-pinned-hour-steps-once",
        "*/30 1 * * *",
        NEW_YORK,
        "2026-11-01T04:30",
        "2026-11-01T12:00",
        ["2026-11-01T05:00", "2026-11-01T05:30"],
    ),
    (
        "new-york-fall-every-30-minutes-both-passes",
        "*/30 * * * *",
        NEW_YORK,
        "2026-11-01T04:45",
        "2026-11-01T07:00",
        [
            "2026-11-01T05:00",
            "2026-11-01T05:30",
            "2026-11-01T06:00",
            "2026-11-01T06:30",
            "2026-11-01T07:00",
        ],
    ),
    # The southern hemisphere: Sydney leaves daylight saving on 5 April 2026 (03:00 AEDT
    # becomes 02:00 AEST) and enters it on 4 October 2026 (02:00 AEST becomes 03:00 AEDT).
    (
        "sydney-fall-0230-first-occurrence",
        "30 2 * * *",
        SYDNEY,
        "2026-04-03T12:00",
        "2026-04-05T18:00",
        ["2026-04-03T15:30", "2026-04-04T15:30", "2026-04-05T16:30"],
    ),
    (
        "sydney-spring-0230-runs-at-gap-end",
        "30 2 * * *",
        SYDNEY,
        "2026-10-02T12:00",
        "2026-10-04T18:00",
        ["2026-10-02T16:30", "2026-10-03T16:00", "2026-10-04T15:30"],
    ),
]


@pytest.mark.parametrize(
    ("expression", "zone", "start", "end", "expected"),
    [case[1:] for case in DST],
    ids=[case[0] for case in DST],
)
def test_cron_across_daylight_saving(
    expression: str, zone: str, start: str, end: str, expected: list[str]
) -> None:
    slots = list(CronSchedule(expression, zone).slots_between(utc(start), utc(end)))
    assert slots == [utc(slot) for slot in expected]


HOURLY_LOCAL_DAYS = [
    # (id, zone, local day's first instant in UTC, hours in that local day)
    ("berlin-spring-23-runs", BERLIN, "2026-03-28T23:00", 23),
    ("berlin-fall-25-runs", BERLIN, "2026-10-24T22:00", 25),
    ("new-york-spring-23-runs", NEW_YORK, "2026-03-08T05:00", 23),
    ("new-york-fall-25-runs", NEW_YORK, "2026-11-01T04:00", 25),
    ("berlin-ordinary-24-runs", BERLIN, "2026-06-14T22:00", 24),
]


@pytest.mark.parametrize(
    ("zone", "first", "hours"),
    [case[1:] for case in HOURLY_LOCAL_DAYS],
    ids=[case[0] for case in HOURLY_LOCAL_DAYS],
)
def test_hourly_runs_once_per_elapsed_hour(zone: str, first: str, hours: int) -> None:
    day_start = utc(first)
    window = (day_start - timedelta(seconds=1), day_start + timedelta(hours=hours - 1))
    slots = list(CronSchedule("0 * * * *", zone).slots_between(*window))
    assert slots == hourly(first, hours)
    assert [slot.astimezone(ZoneInfo(zone)).hour for slot in slots[:1]] == [0]


def test_hourly_runs_in_both_passes_of_the_repeated_hour() -> None:
    slots = CronSchedule("0 * * * *", BERLIN).slots_between(
        utc("2026-10-24T23:30"), utc("2026-10-25T02:30")
    )
    walls = [slot.astimezone(ZoneInfo(BERLIN)).isoformat() for slot in slots]
    assert walls == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


# -- intervals -------------------------------------------------------------------------

INTERVAL_NEXT = [
    (
        "15m",
        timedelta(minutes=15),
        utc("2026-01-01T00:00"),
        "UTC",
        "2026-01-01T10:07",
        "2026-01-01T10:15",
    ),
    (
        "15m-strictly-after",
        timedelta(minutes=15),
        utc("2026-01-01T00:00"),
        "UTC",
        "2026-01-01T10:15",
        "2026-01-01T10:30",
    ),
    (
        "15m-before-anchor",
        timedelta(minutes=15),
        utc("2026-01-01T00:00"),
        "UTC",
        "2025-12-31T23:40",
        "2025-12-31T23:45",
    ),
    (
        "90s",
        timedelta(seconds=90),
        utc("2026-01-01T00:00"),
        "UTC",
        "2026-01-01T00:00",
        "2026-01-01T00:01:30",
    ),
    (
        "odd-anchor",
        timedelta(hours=1),
        utc("2026-01-01T00:20"),
        "UTC",
        "2026-01-01T10:30",
        "2026-01-01T11:20",
    ),
    (
        "weekly",
        timedelta(days=7),
        utc("2026-01-05T09:00"),
        "UTC",
        "2026-01-07T00:00",
        "2026-01-12T09:00",
    ),
    (
        "weekly-before-anchor",
        timedelta(days=7),
        utc("2026-01-05T09:00"),
        "UTC",
        "2026-01-01T00:00",
        "2026-01-05T09:00",
    ),
    (
        "weekly-long-before-anchor",
        timedelta(days=7),
        utc("2026-01-05T09:00"),
        "UTC",
        "2025-12-27T00:00",
        "2025-12-29T09:00",
    ),
    (
        "2h-subday-is-utc",
        timedelta(hours=2),
        local("2026-03-28T00:00", BERLIN),
        BERLIN,
        "2026-03-29T00:30",
        "2026-03-29T01:00",
    ),
    (
        "daily-spring",
        timedelta(days=1),
        local("2026-03-01T06:00", BERLIN),
        BERLIN,
        "2026-03-28T12:00",
        "2026-03-29T04:00",
    ),
    (
        "daily-fall",
        timedelta(days=1),
        local("2026-03-01T06:00", BERLIN),
        BERLIN,
        "2026-10-24T12:00",
        "2026-10-25T05:00",
    ),
    (
        "daily-0230-gap",
        timedelta(days=1),
        local("2026-03-01T02:30", BERLIN),
        BERLIN,
        "2026-03-28T12:00",
        "2026-03-29T01:00",
    ),
    (
        "daily-0230-repeat",
        timedelta(days=1),
        local("2026-03-01T02:30", BERLIN),
        BERLIN,
        "2026-10-24T12:00",
        "2026-10-25T00:30",
    ),
    (
        "2-days-new-york",
        timedelta(days=2),
        local("2026-03-06T09:00", NEW_YORK),
        NEW_YORK,
        "2026-03-06T14:00",
        "2026-03-08T13:00",
    ),
    (
        "48h-counts-as-days",
        timedelta(hours=48),
        local("2026-03-06T09:00", NEW_YORK),
        NEW_YORK,
        "2026-03-06T14:00",
        "2026-03-08T13:00",
    ),
    (
        "36h-is-absolute",
        timedelta(hours=36),
        local("2026-03-07T09:00", NEW_YORK),
        NEW_YORK,
        "2026-03-07T14:00",
        "2026-03-09T02:00",
    ),
    (
        "anchor-in-other-zone",
        timedelta(days=1),
        local("2026-01-01T06:00", BERLIN),
        NEW_YORK,
        "2026-03-08T12:00",
        "2026-03-09T04:00",
    ),
]


@pytest.mark.parametrize(
    ("every", "anchor", "zone", "moment", "expected"),
    [case[1:] for case in INTERVAL_NEXT],
    ids=[case[0] for case in INTERVAL_NEXT],
)
def test_interval_next_after(
    every: timedelta, anchor: datetime, zone: str, moment: str, expected: str
) -> None:
    slot = IntervalSchedule(every, anchor, zone).next_after(utc(moment))
    assert slot == utc(expected)
    assert slot.tzinfo is UTC


def test_subday_interval_keeps_absolute_spacing_across_the_change() -> None:
    schedule = IntervalSchedule(timedelta(hours=2), local("2026-03-28T01:00", BERLIN), BERLIN)
    slots = list(schedule.slots_between(utc("2026-03-28T20:00"), utc("2026-03-29T06:00")))
    assert {later - earlier for earlier, later in pairwise(slots)} == {timedelta(hours=2)}
    walls = [slot.astimezone(ZoneInfo(BERLIN)).hour for slot in slots]
    assert walls == [23, 1, 4, 6, 8]  # the local hours shift by one at 02:00 -> 03:00


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            "2026-03-27T12:00",
            "2026-03-31T00:00",
            ["2026-03-28T05:00", "2026-03-29T04:00", "2026-03-30T04:00"],
        ),
        (
            "2026-10-23T12:00",
            "2026-10-27T00:00",
            ["2026-10-24T04:00", "2026-10-25T05:00", "2026-10-26T05:00"],
        ),
    ],
    ids=["spring", "fall"],
)
def test_daily_interval_keeps_the_local_time(start: str, end: str, expected: list[str]) -> None:
    schedule = parse_schedule(
        interval="1d", timezone=BERLIN, anchor=local("2026-03-01T06:00", BERLIN)
    )
    slots = list(schedule.slots_between(utc(start), utc(end)))
    assert slots == [utc(slot) for slot in expected]
    assert {slot.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M") for slot in slots} == {"06:00"}


@pytest.mark.parametrize(
    ("interval", "zone", "moment", "expected"),
    [
        ("15m", "UTC", "2026-01-01T10:07", "2026-01-01T10:15"),
        ("2h", "UTC", "2026-01-01T10:07", "2026-01-01T12:00"),
        ("1d", BERLIN, "2026-07-01T12:00", "2026-07-01T22:00"),
        ("7d", "UTC", "2026-01-01T12:00", "2026-01-05T00:00"),
    ],
    ids=["15m-on-the-quarter", "2h-even-hours", "1d-local-midnight", "7d-mondays"],
)
def test_default_anchor(interval: str, zone: str, moment: str, expected: str) -> None:
    schedule = parse_schedule(interval=interval, timezone=zone)
    assert schedule.next_after(utc(moment)) == utc(expected)


# -- slots_between ---------------------------------------------------------------------

SLOTS_BETWEEN = [
    (
        "cron-start-excluded-end-included",
        CronSchedule("0 */6 * * *"),
        "2026-01-01T00:00",
        "2026-01-02T00:00",
        ["2026-01-01T06:00", "2026-01-01T12:00", "2026-01-01T18:00", "2026-01-02T00:00"],
    ),
    ("cron-empty-window", CronSchedule("0 6 * * *"), "2026-01-01T07:00", "2026-01-02T05:00", []),
    (
        "cron-end-before-start",
        CronSchedule("0 6 * * *"),
        "2026-01-05T00:00",
        "2026-01-01T00:00",
        [],
    ),
    (
        "interval-start-excluded-end-included",
        IntervalSchedule(timedelta(minutes=30), utc("2026-01-01T00:00")),
        "2026-01-01T00:00",
        "2026-01-01T01:30",
        ["2026-01-01T00:30", "2026-01-01T01:00", "2026-01-01T01:30"],
    ),
    (
        "interval-daily-berlin",
        IntervalSchedule(timedelta(days=1), local("2026-01-01T06:00", BERLIN), BERLIN),
        "2026-01-01T00:00",
        "2026-01-03T12:00",
        ["2026-01-01T05:00", "2026-01-02T05:00", "2026-01-03T05:00"],
    ),
    (
        "interval-end-before-start",
        IntervalSchedule(timedelta(hours=1), utc("2026-01-01T00:00")),
        "2026-01-05T00:00",
        "2026-01-01T00:00",
        [],
    ),
]


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected"),
    [case[1:] for case in SLOTS_BETWEEN],
    ids=[case[0] for case in SLOTS_BETWEEN],
)
def test_slots_between(schedule: Schedule, start: str, end: str, expected: list[str]) -> None:
    assert list(schedule.slots_between(utc(start), utc(end))) == [utc(s) for s in expected]


def test_slots_between_is_lazy_over_long_windows() -> None:
    slots = CronSchedule("* * * * *").slots_between(utc("2026-01-01T00:00"), utc("9000-01-01"))
    assert next(slots) == utc("2026-01-01T00:01")


# -- due_slots -------------------------------------------------------------------------

DAILY = CronSchedule("0 6 * * *")
NOW = utc("2026-01-10T12:00")

DUE = [
    (
        "latest-runs-newest-skips-older",
        "2026-01-07T06:00",
        None,
        "latest",
        ["2026-01-10T06:00"],
        ["2026-01-08T06:00", "2026-01-09T06:00"],
    ),
    (
        "all-runs-every-one-oldest-first",
        "2026-01-07T06:00",
        None,
        "all",
        ["2026-01-08T06:00", "2026-01-09T06:00", "2026-01-10T06:00"],
        [],
    ),
    ("up-to-date", "2026-01-10T06:00", None, "latest", [], []),
    ("last-slot-ahead-of-now", "2026-01-11T06:00", None, "all", [], []),
    ("never-ran-counts-from-created", None, "2026-01-09T07:00", "latest", ["2026-01-10T06:00"], []),
    (
        "never-ran-latest-skips-since-created",
        None,
        "2026-01-08T00:00",
        "latest",
        ["2026-01-10T06:00"],
        ["2026-01-08T06:00", "2026-01-09T06:00"],
    ),
    (
        "never-ran-all-since-created",
        None,
        "2026-01-08T00:00",
        "all",
        ["2026-01-08T06:00", "2026-01-09T06:00", "2026-01-10T06:00"],
        [],
    ),
    ("created-at-a-slot-excludes-it", None, "2026-01-10T06:00", "latest", [], []),
    (
        "last-slot-wins-over-created",
        "2026-01-09T06:00",
        "2026-01-01T00:00",
        "all",
        ["2026-01-10T06:00"],
        [],
    ),
]


@pytest.mark.parametrize(
    ("last", "created", "catchup", "to_run", "skipped"),
    [case[1:] for case in DUE],
    ids=[case[0] for case in DUE],
)
def test_due_slots(
    last: str | None, created: str | None, catchup: Any, to_run: list[str], skipped: list[str]
) -> None:
    last_slot = None if last is None else utc(last)
    created_at = None if created is None else utc(created)
    due = due_slots(DAILY, last_slot, NOW, catchup, created_at)
    assert due == ([utc(s) for s in to_run], [utc(s) for s in skipped])


def test_a_slot_at_now_is_due() -> None:
    due = due_slots(DAILY, utc("2026-01-09T06:00"), utc("2026-01-10T06:00"))
    assert due == ([utc("2026-01-10T06:00")], [])


def test_due_slots_default_policy_is_latest() -> None:
    to_run, skipped = due_slots(DAILY, utc("2026-01-01T06:00"), NOW)
    assert (to_run, len(skipped)) == ([utc("2026-01-10T06:00")], 8)


MINUTELY: list[tuple[str, Schedule]] = [
    ("cron", CronSchedule("* * * * *", BERLIN)),
    ("interval", IntervalSchedule(timedelta(minutes=1), utc("2026-01-01T00:00"))),
]
MONTH_LATER = utc("2026-01-31T00:00")  # 43,200 minutely slots after 1 January


@pytest.mark.parametrize("schedule", [s for _, s in MINUTELY], ids=[i for i, _ in MINUTELY])
def test_catch_up_all_is_capped_and_resumes(schedule: Schedule) -> None:
    first, skipped = due_slots(schedule, utc("2026-01-01T00:00"), MONTH_LATER, "all")
    assert (len(first), skipped) == (10_000, [])
    assert first[0] == utc("2026-01-01T00:01") and first[-1] == utc("2026-01-07T22:40")
    second, _ = due_slots(schedule, first[-1], MONTH_LATER, "all")
    assert second[0] == utc("2026-01-07T22:41") and len(second) == 10_000


@pytest.mark.parametrize("schedule", [s for _, s in MINUTELY], ids=[i for i, _ in MINUTELY])
def test_catch_up_latest_runs_the_newest_and_caps_the_skipped(schedule: Schedule) -> None:
    to_run, skipped = due_slots(schedule, utc("2026-01-01T00:00"), MONTH_LATER)
    assert to_run == [MONTH_LATER]
    assert 9_000 <= len(skipped) <= 9_999
    assert {b - a for a, b in pairwise([*skipped, *to_run])} == {timedelta(minutes=1)}


def test_catch_up_latest_over_years_of_uneven_slots() -> None:
    schedule = CronSchedule("* 9 * * *")  # 60 slots a day, all between 09:00 and 09:59
    to_run, skipped = due_slots(schedule, utc("1990-01-01T00:00"), NOW)
    assert to_run == [utc("2026-01-10T09:59")]
    assert 0 < len(skipped) <= 9_999
    assert all(schedule.next_after(a) == b for a, b in pairwise([*skipped, *to_run]))


# -- parse_interval --------------------------------------------------------------------

GOOD_INTERVALS = [
    ("90s", timedelta(seconds=90)),
    ("15m", timedelta(minutes=15)),
    ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)),
    ("1h30m", timedelta(minutes=90)),
    ("1d12h", timedelta(hours=36)),
    ("2h 30m", timedelta(minutes=150)),
    ("1H", timedelta(hours=1)),
    (" 15m ", timedelta(minutes=15)),
    ("1m30s", timedelta(seconds=90)),
    ("900", timedelta(seconds=900)),
    ("0h5m", timedelta(minutes=5)),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_INTERVALS, ids=[t for t, _ in GOOD_INTERVALS])
def test_parse_interval(text: str, expected: timedelta) -> None:
    assert parse_interval(text) == expected


BAD_INTERVALS = ["", "abc", "15x", "1.5h", "-5m", "30m1h", "15 minutes", "m", "1w", "٣m"]


@pytest.mark.parametrize("text", BAD_INTERVALS, ids=[repr(t) for t in BAD_INTERVALS])
def test_parse_interval_refuses(text: str) -> None:
    message = (
        f"interval {text!r} is not understood; write a whole number with a unit, e.g. "
        "'90s', '15m', '2h', '1d', '1h30m', or seconds '900'."
    )
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_interval(text)


@pytest.mark.parametrize("text", ["0", "0m", "0h0m"])
def test_parse_interval_refuses_zero(text: str) -> None:
    with pytest.raises(ConfigurationError, match="is zero; it must be at least 1 second"):
        parse_interval(text)


# -- error messages --------------------------------------------------------------------

NAIVE = datetime(2026, 1, 1)

ERRORS: list[tuple[str, Callable[[], object], str]] = [
    ("hour-25", lambda: CronSchedule("0 25 * * *"), "cron field 'hour' got 25; valid: 0-23"),
    ("minute-60", lambda: CronSchedule("60 * * * *"), "cron field 'minute' got 60; valid: 0-59"),
    ("day-0", lambda: CronSchedule("0 0 0 * *"), "cron field 'day-of-month' got 0; valid: 1-31"),
    ("day-32", lambda: CronSchedule("0 0 32 * *"), "cron field 'day-of-month' got 32; valid: 1-31"),
    (
        "month-13",
        lambda: CronSchedule("0 0 1 13 *"),
        "cron field 'month' got 13; valid: 1-12 or jan-dec",
    ),
    (
        "month-name",
        lambda: CronSchedule("0 0 1 janu *"),
        "cron field 'month' got 'janu'; valid: 1-12 or jan-dec",
    ),
    (
        "weekday-8",
        lambda: CronSchedule("0 0 * * 8"),
        "cron field 'day-of-week' got 8; valid: 0-7 (0 and 7 are Sunday) or sun-sat",
    ),
    (
        "weekday-name",
        lambda: CronSchedule("0 0 * * monday"),
        "cron field 'day-of-week' got 'monday'; valid: 0-7 (0 and 7 are Sunday) or sun-sat",
    ),
    (
        "name-in-hour",
        lambda: CronSchedule("0 mon * * *"),
        "cron field 'hour' got 'mon'; valid: 0-23",
    ),
    ("range-end", lambda: CronSchedule("0 9-24 * * *"), "cron field 'hour' got 24; valid: 0-23"),
    (
        "empty-list-item",
        lambda: CronSchedule("1,,2 * * * *"),
        "cron field 'minute' got ''; valid: 0-59",
    ),
    (
        "step-0",
        lambda: CronSchedule("*/0 * * * *"),
        "cron field 'minute' got '*/0': a step must be a whole number of at least 1; valid: 0-59",
    ),
    (
        "step-word",
        lambda: CronSchedule("*/x * * * *"),
        "cron field 'minute' got '*/x': a step must be a whole number of at least 1",
    ),
    (
        "backwards-range",
        lambda: CronSchedule("0 17-9 * * *"),
        "cron field 'hour' got '17-9': the range runs backwards, write '9-17' or a list",
    ),
    (
        "step-without-range",
        lambda: CronSchedule("5/15 * * * *"),
        "cron field 'minute' got '5/15': a step needs a range or '*', write '5-59/15' or '*/15'",
    ),
    (
        "four-fields",
        lambda: CronSchedule("0 6 * *"),
        "cron expression '0 6 * *' has 4 field(s); expected 5: minute hour day-of-month month "
        "day-of-week (e.g. '0 6 * * *' for 06:00 every day).",
    ),
    ("six-fields", lambda: CronSchedule("0 0 6 * * *"), "has 6 field(s); expected 5"),
    ("empty", lambda: CronSchedule(""), "cron expression '' has 0 field(s); expected 5"),
    (
        "unknown-macro",
        lambda: CronSchedule("@reboot"),
        "unknown cron macro '@reboot'; use one of @yearly, @annually, @monthly, @weekly, "
        "@daily, @midnight, @hourly or five fields",
    ),
    (
        "not-a-string",
        lambda: CronSchedule(6),  # type: ignore[arg-type]
        "a cron expression must be a string (e.g. '0 6 * * *' for 06:00 every day), got 6.",
    ),
    (
        "never-runs",
        lambda: CronSchedule("0 0 30 2 *"),
        "cron expression '0 0 30 2 *' never runs: day-of-month 30 does not occur in February; "
        "pick days that exist in those months.",
    ),
    (
        "never-runs-months",
        lambda: CronSchedule("0 0 31 4,6 *"),
        "day-of-month 31 does not occur in April, June",
    ),
    (
        "zone-unknown-suggests",
        lambda: CronSchedule("0 6 * * *", "Berlin"),
        "unknown time zone 'Berlin'; use an IANA name such as 'Europe/Berlin', "
        "'America/New_York' or 'UTC'. Did you mean 'Europe/Berlin'?",
    ),
    (
        "zone-wrong-case",
        lambda: CronSchedule("0 6 * * *", "europe/berlin"),
        "Did you mean 'Europe/Berlin'?",
    ),
    (
        "zone-made-up",
        lambda: CronSchedule("0 6 * * *", "Mars/Olympus"),
        "unknown time zone 'Mars/Olympus'; use an IANA name such as 'Europe/Berlin'",
    ),
    (
        "zone-empty",
        lambda: parse_schedule(interval="1h", timezone=""),
        "unknown time zone ''; use an IANA name such as 'Europe/Berlin'",
    ),
    (
        "zone-path",
        lambda: parse_schedule(interval="1h", timezone="/etc/passwd"),
        "unknown time zone '/etc/passwd'",
    ),
    (
        "zone-not-str",
        lambda: CronSchedule("0 6 * * *", 1),  # type: ignore[arg-type]
        "timezone must be an IANA name such as 'Europe/Berlin' or 'UTC', got 1.",
    ),
    (
        "naive-moment",
        lambda: DAILY.next_after(NAIVE),
        "next_after(moment) must be timezone-aware, got the naive 2026-01-01T00:00:00; "
        "pass e.g. datetime(2026, 1, 1, tzinfo=UTC) or datetime.now(UTC).",
    ),
    (
        "naive-start",
        lambda: DAILY.slots_between(NAIVE, NOW),
        "slots_between(start) must be timezone-aware",
    ),
    (
        "naive-end",
        lambda: MINUTELY[1][1].slots_between(NOW, NAIVE),
        "slots_between(end) must be timezone-aware",
    ),
    (
        "not-a-datetime",
        lambda: DAILY.next_after("2026-01-01"),  # type: ignore[arg-type]
        "next_after(moment) must be a datetime, got '2026-01-01'.",
    ),
    (
        "naive-now",
        lambda: due_slots(DAILY, None, NAIVE, created=NOW),
        "due_slots(now) must be timezone-aware",
    ),
    (
        "no-last-no-created",
        lambda: due_slots(DAILY, None, NOW),
        "due_slots needs last_slot or created: for a schedule that never ran, pass "
        "created=<when the schedule was created>.",
    ),
    (
        "bad-catchup",
        lambda: due_slots(DAILY, NOW, NOW, "some"),  # type: ignore[arg-type]
        "catchup must be 'latest' or 'all', got 'some'.",
    ),
    (
        "both-kinds",
        lambda: parse_schedule(cron="0 6 * * *", interval="1h"),
        "give cron= or interval=, not both.",
    ),
    (
        "no-kind",
        lambda: parse_schedule(),
        "give a schedule: cron= (e.g. '0 6 * * *') or interval= (e.g. '15m').",
    ),
    (
        "anchor-with-cron",
        lambda: parse_schedule(cron="0 6 * * *", anchor=NOW),
        "anchor= applies to interval schedules only; drop it.",
    ),
    (
        "interval-not-str",
        lambda: parse_interval(15),  # type: ignore[arg-type]
        "an interval must be a string (write a whole number with a unit",
    ),
    (
        "every-zero",
        lambda: IntervalSchedule(timedelta(0), NOW),
        "every must be a whole number of seconds, at least 1, got datetime.timedelta(0).",
    ),
    (
        "every-negative",
        lambda: parse_schedule(interval=timedelta(minutes=-5)),
        "every must be a whole number of seconds, at least 1",
    ),
    (
        "every-fraction",
        lambda: IntervalSchedule(timedelta(seconds=1.5), NOW),
        "every must be a whole number of seconds, at least 1",
    ),
    (
        "every-not-timedelta",
        lambda: IntervalSchedule(900, NOW),  # type: ignore[arg-type]
        "every must be a timedelta, got 900; pass e.g. timedelta(minutes=15), "
        "or parse_schedule(interval='15m').",
    ),
    (
        "anchor-naive",
        lambda: parse_schedule(interval="1h", anchor=NAIVE),
        "anchor must be timezone-aware",
    ),
    (
        "dict-not-dict",
        lambda: schedule_from_dict("cron"),  # type: ignore[arg-type]
        "a schedule dict must be a dict from to_dict(), got 'cron'.",
    ),
    (
        "dict-kind",
        lambda: schedule_from_dict({"kind": "rrule"}),
        "schedule dict has kind 'rrule'; expected 'cron' or 'interval', as to_dict() writes.",
    ),
    (
        "dict-no-expression",
        lambda: schedule_from_dict({"kind": "cron"}),
        "schedule dict needs 'expression' as str, got None; store what to_dict() returns.",
    ),
    (
        "dict-every",
        lambda: schedule_from_dict(
            {"kind": "interval", "every_seconds": "15m", "anchor": "2026-01-01T00:00:00+00:00"}
        ),
        "schedule dict needs 'every_seconds' as int, got '15m'",
    ),
    (
        "dict-anchor",
        lambda: schedule_from_dict(
            {"kind": "interval", "every_seconds": 60, "anchor": "2026-01-01T00:00:00"}
        ),
        "schedule dict has anchor '2026-01-01T00:00:00'; expected an ISO 8601 time with "
        "offset, e.g. '2026-01-01T06:00:00+00:00'.",
    ),
    (
        "dict-anchor-garbage",
        lambda: schedule_from_dict({"kind": "interval", "every_seconds": 60, "anchor": "soon"}),
        "schedule dict has anchor 'soon'",
    ),
    (
        "dict-timezone",
        lambda: schedule_from_dict(
            {"kind": "cron", "expression": "0 6 * * *", "timezone": "Berlin"}
        ),
        "unknown time zone 'Berlin'",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"), [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS]
)
def test_error_messages(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        call()


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="cron field 'hour'"):
        parse_schedule(cron="0 99 * * *")


# -- describe --------------------------------------------------------------------------

DESCRIBE = [
    (CronSchedule("0 6 * * *", BERLIN), "every day at 06:00 (Europe/Berlin)"),
    (CronSchedule("@daily"), "every day at 00:00 (UTC)"),
    (CronSchedule("30 9 * * mon"), "every Monday at 09:30 (UTC)"),
    (CronSchedule("0 9 * * 1,3,5"), "every Monday, Wednesday and Friday at 09:00 (UTC)"),
    (
        CronSchedule("0 9 * * 1-5", NEW_YORK),
        "every weekday (Monday to Friday) at 09:00 (America/New_York)",
    ),
    (CronSchedule("0 10 * * 0,6"), "every Saturday and Sunday at 10:00 (UTC)"),
    (CronSchedule("@weekly"), "every Sunday at 00:00 (UTC)"),
    (CronSchedule("* * * * *"), "every minute"),
    (CronSchedule("*/15 * * * *"), "every 15 minutes"),
    (CronSchedule("0,30 * * * *"), "every 30 minutes"),
    (CronSchedule("5 * * * *"), "every hour at minute 5"),
    (CronSchedule("@hourly"), "every hour at minute 0"),
    (CronSchedule("0 */2 * * *", BERLIN), "every 2 hours at minute 0 (Europe/Berlin)"),
    (CronSchedule("0 9,17 * * *"), "every day at 09:00 and 17:00 (UTC)"),
    (CronSchedule("*/15 9 * * *"), "every day at 09:00, 09:15, 09:30 and 09:45 (UTC)"),
    (CronSchedule("@monthly"), "at 00:00 on day 1 of every month (UTC)"),
    (CronSchedule("0 8 1,15 * *"), "at 08:00 on days 1 and 15 of every month (UTC)"),
    (CronSchedule("@yearly"), "at 00:00 on 1 January every year (UTC)"),
    (CronSchedule("0 0 1 1,7 *"), "at 00:00 on day 1 of January and July (UTC)"),
    (CronSchedule("0 0 * 12 *"), "every day in December at 00:00 (UTC)"),
    (CronSchedule("*/7 * * * *"), 'cron "*/7 * * * *" (UTC)'),
    (CronSchedule("0 12 13 * 5"), 'cron "0 12 13 * 5" (UTC)'),
    (CronSchedule("0 9-17 * * *", BERLIN), 'cron "0 9-17 * * *" (Europe/Berlin)'),
    (CronSchedule("15 */5 * * *"), "every day at 00:15, 05:15, 10:15, 15:15 and 20:15 (UTC)"),
    (CronSchedule("0 0 1-7 * mon"), 'cron "0 0 1-7 * mon" (UTC)'),
    (CronSchedule("0 0 */2 * mon"), 'cron "0 0 */2 * mon" (UTC)'),
    (parse_schedule(interval="15m"), "every 15 minutes"),
    (parse_schedule(interval="1m"), "every minute"),
    (parse_schedule(interval="90s"), "every 90 seconds"),
    (parse_schedule(interval="1h30m"), "every 90 minutes"),
    (parse_schedule(interval="1h"), "every hour"),
    (parse_schedule(interval="36h"), "every 36 hours"),
    (
        parse_schedule(interval="1d", timezone=BERLIN, anchor=local("2026-01-01T06:00", BERLIN)),
        "every day at 06:00 (Europe/Berlin)",
    ),
    (
        parse_schedule(interval="2d", anchor=utc("2026-01-01T06:00:30")),
        "every 2 days at 06:00:30 (UTC)",
    ),
    (parse_schedule(interval="7d", anchor=utc("2026-01-05T09:30")), "every Monday at 09:30 (UTC)"),
]


@pytest.mark.parametrize(("schedule", "text"), DESCRIBE, ids=[text for _, text in DESCRIBE])
def test_describe(schedule: Schedule, text: str) -> None:
    assert schedule.describe() == text


# -- to_dict round trip ----------------------------------------------------------------

ROUND_TRIP: list[Schedule] = [
    CronSchedule("0 6 * * *", BERLIN),
    CronSchedule("@hourly"),
    CronSchedule("*/5 9-17 * * MON-FRI", NEW_YORK),
    parse_schedule(interval="15m"),
    parse_schedule(interval="1d", timezone=BERLIN, anchor=local("2026-03-01T06:00", BERLIN)),
    IntervalSchedule(timedelta(seconds=90), utc("2026-01-01T00:00:15"), NEW_YORK),
]


@pytest.mark.parametrize("schedule", ROUND_TRIP, ids=[s.describe() for s in ROUND_TRIP])
def test_to_dict_round_trips_through_json(schedule: Schedule) -> None:
    stored = json.loads(json.dumps(schedule.to_dict()))
    loaded = schedule_from_dict(stored)
    assert loaded == schedule
    assert loaded.to_dict() == schedule.to_dict()
    moment = utc("2026-03-29T00:00")
    assert loaded.next_after(moment) == schedule.next_after(moment)


def test_to_dict_shapes() -> None:
    assert CronSchedule("0 6 * * *", BERLIN).to_dict() == {
        "kind": "cron",
        "expression": "0 6 * * *",
        "timezone": BERLIN,
    }
    anchor = local("2026-03-01T06:00", BERLIN)
    assert IntervalSchedule(timedelta(days=1), anchor, BERLIN).to_dict() == {
        "kind": "interval",
        "every_seconds": 86400,
        "anchor": "2026-03-01T05:00:00+00:00",
        "timezone": BERLIN,
    }
    assert schedule_from_dict({"kind": "cron", "expression": "@daily"}).timezone == "UTC"
