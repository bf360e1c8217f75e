"""The store's automation methods: definitions (``Automation.create()``, ``taskbook
automations``, REST), the evaluator's steps and the firings outbox (the scheduler).
Each call is one committed transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import AutomationRecord, FiringRecord

if TYPE_CHECKING:
    from kernel_ext.store._automation_evaluator import Evaluate, EvaluationStep, EventNames

__all__ = ["AutomationsApi"]

_ATTEMPTS = 3


class AutomationsApi(Transactions):
    """Automations by name or id; ``AutomationNotFound`` names the command that lists
    them, ``AutomationExists`` says a name is taken."""

    def create_automation(self, record: Mapping[str, Any]) -> AutomationRecord:
        """Store a validated automation (``id`` optional; ``trigger`` and the actions as
        JSON in Prefect's shape)."""
        from kernel_ext.store import _automation_rows

        return self._write(_automation_rows.create_automation, record)

    def create_automations(self, records: Sequence[Mapping[str, Any]]) -> list[AutomationRecord]:
        """Store several automations in one transaction: all of them, or none (a name
        taken raises ``AutomationExists`` and nothing is stored)."""
        from kernel_ext.store import _automation_rows

        return self._write(_automation_rows.create_automations, records)

    def update_automation(self, name_or_id: str, **fields: Any) -> AutomationRecord:
        """Change an automation's fields; a new trigger starts with no open windows."""
        from kernel_ext.store import _automation_rows

        return self._write(_automation_rows.update_automation, name_or_id, fields)

    def read_automation(self, name_or_id: str) -> AutomationRecord:
        from kernel_ext.store import _automation_rows

        return self._read(_automation_rows.read_automation, name_or_id)

    def find_automation(self, name_or_id: str) -> AutomationRecord | None:
        from kernel_ext.store import _automation_rows

        return self._read(_automation_rows.find_automation, name_or_id)

    def list_automations(self, enabled: bool | None = None) -> list[AutomationRecord]:
        """Automations by name (only the enabled or the paused ones if asked)."""
        from kernel_ext.store import _automation_rows

        return self._read(_automation_rows.list_automations, enabled)

    def set_automation_enabled(self, name_or_id: str, enabled: bool) -> AutomationRecord:
        """Pause (``False``) or resume an automation."""
        return self.update_automation(name_or_id, enabled=enabled)

    def delete_automation(self, name_or_id: str) -> bool:
        """Delete an automation with its windows and firings; False if there was none."""
        from kernel_ext.store import _automation_rows

        return self._write(_automation_rows.delete_automation, name_or_id)

    def list_firings(self, automation_id: str | None = None, limit: int = 20) -> list[FiringRecord]:
        """Firings newest first, of one automation or all."""
        from kernel_ext.store import _automation_rows

        return self._read(_automation_rows.list_firings, automation_id, limit)

    def evaluate_automations(
        self,
        holder: str,
        evaluate: Evaluate,
        event_names: EventNames,
        *,
        lease_seconds: float = 30.0,
        limit: int = 5000,
    ) -> EvaluationStep | None:
        """One evaluation step under the evaluator's lease (see ``_automation_evaluator``);
        None when another scheduler holds it or went first."""
        from kernel_ext.store import _automation_evaluator

        for _ in range(_ATTEMPTS):  # an automation changed mid-step: read again at once
            position = self._write(_automation_evaluator.take_lease, holder, lease_seconds)
            if position is None:
                return None
            if not position.automations:
                return _automation_evaluator.EvaluationStep(0, 0, False)
            batch, reads = self._read(_automation_evaluator.read_step, position, event_names, limit)
            outcome = evaluate(batch)
            new = self._write(_automation_evaluator.commit_step, holder, position, reads, outcome)
            if new is not None:
                return _automation_evaluator.EvaluationStep(len(batch.events), new, reads.more)
        return None

    def release_evaluator(self, holder: str) -> None:
        from kernel_ext.store import _automation_evaluator

        self._write(_automation_evaluator.release_evaluator, holder)

    def claim_firings(
        self, holder: str, claim_seconds: float = 60.0, limit: int = 20
    ) -> list[FiringRecord]:
        """Claim pending firings to run their actions (see ``_automation_rows``)."""
        from kernel_ext.store import _automation_rows

        return self._write(_automation_rows.claim_firings, holder, claim_seconds, limit)

    def finish_firing(
        self,
        firing_id: str,
        holder: str,
        *,
        state: str,
        results: list[Any] | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> bool:
        """Record a claimed firing's outcome: "done", "failed", or "pending" again to be
        retried in ``retry_in`` seconds."""
        from kernel_ext.store import _automation_rows

        return self._write(
            _automation_rows.finish_firing,
            firing_id,
            holder,
            state=state,
            results=results,
            error=error,
            retry_in=retry_in,
        )
