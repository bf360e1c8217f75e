"""Schedules of deployments: cron expressions and fixed intervals, and the slots they name.

    parse_schedule(cron="0 6 * * *", timezone="Europe/Berlin")   # CronSchedule
    parse_schedule(interval="15m")                              # IntervalSchedule
    schedule_from_dict(schedule.to_dict())                      # stored and read back
    due_slots(schedule, last_slot, now, "latest", created)      # what to run now

A slot is an instant at which a deployment runs. Datetimes going in must be timezone-aware;
slots coming out are in UTC.

Time zones and daylight saving: a cron expression is evaluated in the local wall time of
its ``timezone``. A wall time that does not exist on a spring-forward day (02:30 when
clocks jump from 02:00 to 03:00) runs once, at the first instant after the gap (03:00
local); it is not skipped. A wall time that happens twice on a fall-back day (01:30 when
clocks go back from 02:00 to 01:00) runs once, at its first occurrence. Expressions whose
hour field starts with ``*`` (``0 * * * *``, ``*/15 * * * *``) follow elapsed time
instead: they run at each distinct instant whose wall time matches, so twice in the
repeated hour and not at all for wall times in the gap (``0 * * * *`` runs 25 and 23 times
on those days). Interval schedules count in UTC, except whole-day intervals, which keep
the anchor's local time of day (a daily 06:00 Europe/Berlin stays at 06:00 local).
"""

from __future__ import annotations

from papermill_bridge.schedules._cron import CronSchedule
from papermill_bridge.schedules._due import due_slots
from papermill_bridge.schedules._factory import parse_schedule, schedule_from_dict
from papermill_bridge.schedules._interval import IntervalSchedule, parse_interval
from papermill_bridge.schedules._protocol import Schedule

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "due_slots",
    "parse_interval",
    "parse_schedule",
    "schedule_from_dict",
]
