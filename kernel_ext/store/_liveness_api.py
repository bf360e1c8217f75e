"""The store's liveness methods: processes beat the flow runs they execute, and the
scheduler ends the runs whose process is gone (see ``_lost_runs``)."""

from __future__ import annotations

from collections.abc import Sequence

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Cancelled
from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import FlowRunRecord

__all__ = ["LivenessApi"]


class LivenessApi(Transactions):
    """Heartbeats of flow runs outside deployments, and the runs that lost theirs."""

    def beat_flow_runs(self, run_ids: Sequence[str], now: float) -> int:
        """Beat the heartbeat of these (unfinished, non-deployment) flow runs."""
        from kernel_ext.store import _lost_runs

        return self._write(_lost_runs.beat_flow_runs, run_ids, now)

    def find_lost_runs(self, now: float, window: float, limit: int = 100) -> list[FlowRunRecord]:
        """Unfinished flow runs outside deployments with no sign of life in ``window`` s."""
        from kernel_ext.store import _lost_runs

        return self._read(_lost_runs.find_lost_runs, now, window, limit)

    def cancel_unfinished_task_runs(self, flow_run_id: FlowRunId, message: str) -> int:
        """End the task runs of ``flow_run_id`` that are not final Cancelled (a process
        that stops at once, on SIGTERM, leaves none Running)."""
        from kernel_ext.store import _lost_runs

        return self._write(_lost_runs.end_unfinished_task_runs, flow_run_id, Cancelled(message))

    def crash_lost_run(
        self, run_id: FlowRunId, message: str, silent_since: float
    ) -> FlowRunRecord | None:
        """End a lost run Crashed, with its unfinished task runs, and expire its pauses,
        if it has still not beaten since ``silent_since`` (epoch seconds); None if the run
        is gone."""
        from kernel_ext.store import _lost_runs

        return self._write(_lost_runs.crash_lost_run, run_id, message, silent_since)
