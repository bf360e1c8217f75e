"""The scheduler's automation step: evaluate the new events, then act on the firings.

    runner = AutomationRunner(holder="host:1234:ab12")
    runner.tick()      # each scheduler tick; every scheduler on the store may call it

Evaluation runs in the store under one lease (``kernel_ext.store._automation_evaluator``):
whichever scheduler holds it reads the events, and a firing is recorded once, with the
cursor it came from. Acting is shared: each scheduler claims pending firings, runs their
actions and records how they went. A claim expires, so a firing whose scheduler died
mid-way is taken up by another (its actions may then run a second time: the one case of
"at least once"; every other firing acts exactly once). A failing action is tried again
later, up to ``attempts`` times, then the firing is marked failed with the reason, which
``taskbook automations show`` prints.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

from kernel_ext.store import get_store
from kernel_ext.store.records import FiringRecord
from papermill_bridge.automations._step import evaluate_batch, event_names

__all__ = ["AutomationRunner"]

logger = logging.getLogger("taskbook.automations")

_RETRY_SECONDS = 30.0


class AutomationRunner:
    """Evaluates automations and runs their firings' actions for one scheduler."""

    def __init__(
        self,
        holder: str | None = None,
        *,
        budget_seconds: float = 2.0,
        lease_seconds: float = 30.0,
        attempts: int = 3,
        claim_seconds: float = 120.0,
        retry_seconds: float = _RETRY_SECONDS,
    ) -> None:
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.budget_seconds = budget_seconds
        self.lease_seconds = lease_seconds
        self.attempts = attempts
        self.claim_seconds = claim_seconds
        self.retry_seconds = retry_seconds

    def tick(self) -> dict[str, int]:
        """Evaluate what came in (for at most ``budget_seconds`` when a backlog waits),
        then act on the pending firings. Returns the counts of events read, firings
        recorded and firings acted on."""
        counts = {"events": 0, "fired": 0, "acted": 0}
        self._evaluate(counts)
        self._act_on_firings(counts)
        return counts

    def stop(self) -> None:
        """Give the evaluator's lease up, so another scheduler takes over at once."""
        get_store().release_evaluator(self.holder)

    def _evaluate(self, counts: dict[str, int]) -> None:
        store = get_store()
        deadline = time.monotonic() + self.budget_seconds
        while True:
            step = store.evaluate_automations(
                self.holder,
                evaluate_batch,
                event_names,
                lease_seconds=self.lease_seconds,
            )
            if step is None:  # another scheduler evaluates
                return
            counts["events"] += step.events
            counts["fired"] += step.firings
            if not step.more or time.monotonic() >= deadline:
                return

    def _act_on_firings(self, counts: dict[str, int]) -> None:
        """Claim the pending firings one at a time (a claim is fresh when its actions
        start, so it cannot expire behind a slow batch and be taken twice), for at most
        ``budget_seconds``: the rest of the tick (schedules, reaping) waits meanwhile."""
        store = get_store()
        deadline = time.monotonic() + self.budget_seconds
        while time.monotonic() < deadline:
            claimed = store.claim_firings(self.holder, self.claim_seconds, limit=1)
            if not claimed:
                return
            self._act(claimed[0])
            counts["acted"] += 1

    def _act(self, firing: FiringRecord) -> None:
        from papermill_bridge.automations._act import ActionsFailed, act

        store = get_store()
        automation = store.find_automation(firing["automation_id"])
        if automation is None:  # deleted since it fired
            store.finish_firing(firing["id"], self.holder, state="failed", error="deleted")
            return
        try:
            results: list[Any] = list(act(automation, firing))
        except Exception as error:  # reported on the firing, retried
            message = f"{type(error).__name__}: {error}"
            # What each action did: a retry does only the ones that failed.
            done = list(error.results) if isinstance(error, ActionsFailed) else firing["results"]
            if firing["attempts"] < self.attempts:
                logger.warning(
                    "Automation %r: an action failed (%s); trying again in %g s",
                    automation["name"],
                    message,
                    self.retry_seconds,
                )
                retry = self.retry_seconds * firing["attempts"]
                store.finish_firing(
                    firing["id"],
                    self.holder,
                    state="pending",
                    results=done,
                    error=message,
                    retry_in=retry,
                )
            else:
                logger.error(
                    "Automation %r: its actions failed %d times, given up: %s",
                    automation["name"],
                    firing["attempts"],
                    message,
                )
                store.finish_firing(
                    firing["id"], self.holder, state="failed", results=done, error=message
                )
            return
        store.finish_firing(firing["id"], self.holder, state="done", results=results)
