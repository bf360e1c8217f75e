"""Which slots came due: what the scheduler runs, and what it records as skipped.

The catch-up policy decides what happens to slots missed while no scheduler was running:
``"latest"`` runs only the most recent one and returns the older ones as skipped (the
scheduler records them Late-skipped); ``"all"`` runs every one, oldest first.

One call returns at most ``SCAN_CAP`` (10,000) slots and reads a bounded number, so that
a minutely schedule paused for a year, or a bogus ``last_slot``, cannot stall the
scheduler:

- ``"all"`` returns the oldest 10,000 due slots; the rest come due on the next call, once
  ``last_slot`` has moved on to the newest slot returned.
- ``"latest"`` still runs the newest due slot, and lists at most the 9,999 slots just
  before it as skipped; older missed slots are neither run nor listed. (To find the
  newest slot without reading every missed one, it reads at most 20,000 slots a pass and
  jumps ahead between passes.)
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from itertools import islice
from typing import Literal

from kernel_ext._errors import ConfigurationError
from papermill_bridge.schedules._protocol import Schedule
from papermill_bridge.schedules._wallclock import as_utc

__all__ = ["SCAN_CAP", "due_slots"]

SCAN_CAP = 10_000


def due_slots(
    schedule: Schedule,
    last_slot: datetime | None,
    now: datetime,
    catchup: Literal["latest", "all"] = "latest",
    created: datetime | None = None,
) -> tuple[list[datetime], list[datetime]]:
    """``(to_run, skipped)``: the slots after ``last_slot`` (or ``created``) up to ``now``.

    ``last_slot`` is the newest slot already given a run, ``None`` if the schedule never
    ran; then slots count from ``created``, the schedule's creation time. Both lists are
    oldest first, in UTC; a slot equal to ``now`` is due. See the module docstring for
    the 10,000-slot cap.
    """
    if catchup not in ("latest", "all"):
        raise ConfigurationError(f"catchup must be 'latest' or 'all', got {catchup!r}.")
    since = _since(last_slot, created)
    now = as_utc(now, "due_slots(now)")
    if catchup == "all":
        return list(islice(schedule.slots_between(since, now), SCAN_CAP)), []
    newest = _newest(schedule, since, now)
    return newest[-1:], newest[:-1]


def _since(last_slot: datetime | None, created: datetime | None) -> datetime:
    if last_slot is not None:
        return as_utc(last_slot, "due_slots(last_slot)")
    if created is None:
        raise ConfigurationError(
            "due_slots needs last_slot or created: for a schedule that never ran, pass "
            "created=<when the schedule was created>."
        )
    return as_utc(created, "due_slots(created)")


def _newest(schedule: Schedule, since: datetime, now: datetime) -> list[datetime]:
    """The newest ``SCAN_CAP`` (at most) slots in ``(since, now]``, oldest first.

    A pass reads at most twice the cap and keeps the newest cap slots it read. A pass that
    does not reach ``now`` is followed by one that starts where, at the pace just read, the
    last cap slots before ``now`` begin (and never before the slots already read).
    """
    start = since
    while True:
        newest: deque[datetime] = deque(maxlen=SCAN_CAP)
        newest.extend(islice(schedule.slots_between(start, now), 2 * SCAN_CAP))
        if len(newest) < SCAN_CAP or schedule.next_after(newest[-1]) > now:
            return list(newest)
        start = max(newest[-1], now - (newest[-1] - newest[0]))
