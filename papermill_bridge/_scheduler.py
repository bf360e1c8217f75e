"""The scheduler: turns schedules into Scheduled runs, and keeps runs honest.

Every tick it (1) creates a run for each slot that came due, with a slot key that is
unique in the store, so a slot never runs twice however many schedulers run; slots missed
while nothing was running follow the schedule's catch-up policy ("latest": run the most
recent once and record the older ones as Skipped; "all": run them all); (2) marks runs
still waiting past a grace period Late (they still run); (3) marks runs whose worker
stopped beating Crashed, and the flow runs outside deployments whose process stopped
beating too (with their unfinished task runs and pending pauses); (4) expires pauses past
their timeout, failing the Suspended runs that waited on them (``PauseTimeout``); (5) every
few minutes, prunes runs to the store's retention policies, a bounded share at a time;
(6) evaluates the automations on the new events and runs the actions of their firings
(``papermill_bridge.automations``: once per firing, however many schedulers run).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kernel_ext._errors import ConfigurationError
from kernel_ext._states import (
    BUSY_TYPES,
    AwaitingRetry,
    Cancelled,
    Crashed,
    Late,
    Scheduled,
    StateType,
)
from kernel_ext.store import get_store
from kernel_ext.store.records import FlowRunRecord, ScheduleRecord
from papermill_bridge._start_run import create_deployment_run, slot_parameters

if TYPE_CHECKING:
    from papermill_bridge.automations import AutomationRunner

__all__ = ["LATE_AFTER_SECONDS", "Scheduler"]

logger = logging.getLogger("taskbook.scheduler")

LATE_AFTER_SECONDS = 60.0
DEAD_AFTER_SECONDS = 30.0
# A flow run outside deployments beats every 10 s (kernel_ext._liveness); six missed
# beats and it is lost.
LOST_AFTER_SECONDS = 60.0
# A crashed deployment run's retry waits this long: several looks of the old attempt's
# fence (kernel_ext.deployment), which stops whatever of it may still run.
RETRY_AFTER_SECONDS = 10.0
# Retention runs this often, at most this many batches per policy (see
# kernel_ext.store._retention_api): old runs are no emergency, the writers come first.
PRUNE_EVERY_SECONDS = 300.0
PRUNE_BATCHES = 20


def _utc(timestamp: str | float | None) -> datetime | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, (int, float)):
        return datetime.fromtimestamp(timestamp, UTC)
    return datetime.fromisoformat(timestamp).astimezone(UTC)


class Scheduler:
    """Creates due runs, marks Late and Crashed runs; ``tick()`` does one pass."""

    def __init__(
        self,
        interval_seconds: float = 5.0,
        dead_after_seconds: float = DEAD_AFTER_SECONDS,
        lost_after_seconds: float = LOST_AFTER_SECONDS,
        deployments: Sequence[str] | None = None,
        automations: bool | None = None,
    ) -> None:
        """``deployments``: create runs for these deployments' schedules only (a served
        flow's scheduler); None, every deployment's. Reaping and marking Late is for all.
        ``automations``: evaluate them and act on their firings; by default only a
        scheduler of every deployment does (``taskbook serve``), not a served flow's."""
        self.deployments = None if deployments is None else frozenset(deployments)
        self.interval_seconds = interval_seconds
        self.dead_after_seconds = dead_after_seconds
        self.lost_after_seconds = lost_after_seconds
        # Lost runs are judged only after this scheduler has reached the store for a whole
        # window: after an outage (or at its start) live processes get to beat first.
        self._healthy_since: float | None = None
        # schedule id -> (its spec and last slot as seen, when its next slot comes due):
        # a tick skips schedules with nothing due without any schedule arithmetic.
        self._next_due: dict[str, tuple[Any, Any, float]] = {}
        self._pruned_at: float | None = None  # when this scheduler last applied retention
        self.automations: AutomationRunner | None = None
        if automations or (automations is None and deployments is None):
            # Imported here: the automations' models (pydantic) load only for a scheduler.
            from papermill_bridge.automations import AutomationRunner

            self.automations = AutomationRunner()
        self.stopping = threading.Event()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # a store blip must not end the scheduler; the next tick retries
                self._healthy_since = None
                logger.exception(
                    "A scheduler tick failed; trying again in %g s", self.interval_seconds
                )
            self.stopping.wait(self.interval_seconds)
        if self.automations is not None:
            with contextlib.suppress(Exception):  # the lease expires by itself anyway
                self.automations.stop()

    def tick(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        if self._healthy_since is None:
            self._healthy_since = now
        counts = {"created": 0, "skipped": 0}
        for schedule in get_store().list_schedules(active_only=True):
            if self.deployments is not None and schedule["deployment_name"] not in self.deployments:
                continue
            if not schedule.get("deployment_paused"):
                self._step(self._fill, schedule, now, counts)
        counts["late"] = self._step(self._mark_late, now)
        counts["crashed"] = self._step(self._reap, now) + self._step(self._reap_lost, now)
        counts["expired"] = self._step(self._expire_pauses, now)
        counts["pruned"] = self._step(self._prune, now)
        if self.automations is not None:
            counts["fired"] = self._step(self._automate)
        return counts

    def _automate(self) -> int:
        return self.automations.tick()["fired"] if self.automations is not None else 0

    def _step(self, step: Any, *args: Any) -> int:
        """One step of a tick: a failing one (a bad schedule, a run deleted meanwhile) is
        logged and does not keep the others from running; a store that cannot be
        reached ends the tick (``serve`` retries it)."""
        from sqlalchemy.exc import DBAPIError

        from kernel_ext._errors import StoreUnavailableError

        try:
            return int(step(*args) or 0)
        except (DBAPIError, StoreUnavailableError):
            raise
        except Exception:
            logger.exception(
                "Scheduler step %s failed; the others go on", getattr(step, "__name__", step)
            )
            return 0

    def _reap_lost(self, now: float) -> int:
        """Flow runs outside deployments whose process stopped beating end Crashed."""
        assert self._healthy_since is not None
        if now - self._healthy_since < self.lost_after_seconds:
            return 0
        store, crashed = get_store(), 0
        cutoff = now - self.lost_after_seconds
        for run in store.find_lost_runs(now, self.lost_after_seconds):
            message = (
                "Its process stopped beating (killed, or its machine went away) more "
                f"than {self.lost_after_seconds:g} s ago."
            )
            ended = store.crash_lost_run(run["id"], message, cutoff)
            if ended is not None and ended["state_type"] == StateType.CRASHED:
                crashed += 1
        return crashed

    def _prune(self, now: float) -> int:
        """Apply the store's retention policies, every ``PRUNE_EVERY_SECONDS`` and a few
        batches at a time (the rest waits for a later tick). Several schedulers may prune
        at once: they skip each other's locked rows (PostgreSQL) or take turns (SQLite)."""
        if self.deployments is not None:  # a served flow's scheduler leaves it to `serve`
            return 0
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return 0
        self._pruned_at = now
        return get_store().apply_retention(now, max_batches=PRUNE_BATCHES)["flow_runs"]

    def _expire_pauses(self, now: float) -> int:
        """Pauses past their timeout expire; a Suspended run waiting on one fails."""
        from kernel_ext import approvals

        return len(approvals.expire_overdue(now))

    def _mark_late(self, now: float) -> int:
        """Runs still waiting a grace period after their time are Late (they still run)."""
        store, late = get_store(), 0
        for run in store.list_flow_runs(limit=1000, state="Scheduled"):
            due = _utc(run.get("scheduled_time"))
            if run["state"] == "Scheduled" and due and now - due.timestamp() > LATE_AFTER_SECONDS:
                late_state = Late(f"Not started {LATE_AFTER_SECONDS:g} s after its time.")
                store.set_run_state(run["id"], late_state, only_from=(StateType.SCHEDULED,))
                late += 1
        return late

    def _fill(self, schedule: ScheduleRecord, now: float, counts: dict[str, int]) -> None:
        from papermill_bridge.schedules import due_slots, schedule_from_dict

        seen = (schedule["spec"], schedule.get("last_slot"))
        known = self._next_due.get(schedule["id"])
        if known is not None and known[:2] == seen and now < known[2]:
            return
        spec = schedule_from_dict(schedule["spec"])
        last = _utc(schedule.get("last_slot"))
        created = _utc(schedule["created"])
        to_run, skipped = due_slots(spec, last, _utc(now), schedule["catchup"], created)  # type: ignore[arg-type]
        store = get_store()
        for slot in skipped:
            run = self._create(schedule, slot, late=False)
            if run is not None:
                note = "Missed while nothing was running (catch-up: latest)."
                skipped_state = Cancelled(note, name="Skipped")
                store.set_run_state(run["id"], skipped_state, only_from=(StateType.SCHEDULED,))
                counts["skipped"] += 1
        for slot in to_run:
            late = now - slot.timestamp() > LATE_AFTER_SECONDS
            if self._create(schedule, slot, late) is not None:
                counts["created"] += 1
        if to_run or skipped:
            last_slot = max([*to_run, *skipped])
            try:
                store.advance_schedule(schedule["id"], last_slot.timestamp())
            except ConfigurationError:  # the schedule was replaced meanwhile: it made no run
                self._next_due.pop(schedule["id"], None)
                return
            seen = (schedule["spec"], last_slot.isoformat())
        upcoming = spec.next_after(_utc(now))  # type: ignore[arg-type]
        self._next_due[schedule["id"]] = (*seen, upcoming.timestamp())

    def _create(self, schedule: ScheduleRecord, slot: datetime, late: bool) -> FlowRunRecord | None:
        store = get_store()
        deployment = store.read_deployment(schedule["deployment_id"])
        parameters = slot_parameters(deployment, schedule)
        state = Late() if late else Scheduled()
        return create_deployment_run(
            store, deployment, parameters, slot.timestamp(), state, (schedule, slot)
        )

    def _reap(self, now: float) -> int:
        store = get_store()
        dead = store.find_dead_runs(now, self.dead_after_seconds)
        for run in dead:
            crashed = Crashed(f"Its worker {run['worker_id']} stopped beating.")
            store.set_run_state(run["id"], crashed, only_from=BUSY_TYPES)
            self._retry(run)
        return len(dead)

    def _retry(self, run: FlowRunRecord) -> None:
        """Queue a crashed run again (same id) while its deployment's retries last."""
        store = get_store()
        if run["deployment_id"] is None:
            return
        retries = store.read_deployment(run["deployment_id"])["retries"]
        attempts = run["run_count"] or 1
        if attempts <= retries:
            # Due a little later, not now: the crashed attempt's kernel (if anything of it
            # is left) sees AwaitingRetry and stops itself before the retry starts.
            store.set_run_state(
                run["id"],
                AwaitingRetry(f"Retry {attempts} of {retries} after a crash."),
                only_from=(StateType.CRASHED,),
                due=time.time() + RETRY_AFTER_SECONDS,
            )
