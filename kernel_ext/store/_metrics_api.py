"""The store's metric reads: what a Prometheus scrape asks (see ``_metrics_reads``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from kernel_ext.store._transactions import Transactions
from kernel_ext.store._writer import Writer
from kernel_ext.store.records import StoreMetrics, WriterLag

__all__ = ["FLOW_RUN_BOUNDS", "TASK_RUN_BOUNDS", "WINDOW", "MetricsApi"]

WINDOW = 3600.0
# A notebook run takes seconds to hours; a task run from microseconds to minutes.
FLOW_RUN_BOUNDS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0)
TASK_RUN_BOUNDS = (0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class MetricsApi(Transactions):
    """Aggregates of the whole store for monitoring, and this process's writer lag."""

    _writer: Writer

    def read_metrics(
        self,
        window: float = WINDOW,
        flow_run_bounds: Sequence[float] = FLOW_RUN_BOUNDS,
        task_run_bounds: Sequence[float] = TASK_RUN_BOUNDS,
    ) -> StoreMetrics:
        """Run counts by state, the durations of runs that ended within ``window``
        seconds bucketed by the bounds given (seconds, ascending), the deployments'
        queues and the busy workers: one read transaction, a few indexed queries."""
        from kernel_ext.store import _metrics_reads

        return self._read(
            _metrics_reads.read_metrics,
            time.time(),
            window,
            tuple(flow_run_bounds),
            tuple(task_run_bounds),
        )

    def writer_lag(self) -> WriterLag:
        """How far this process's background writer is behind: the events not committed
        yet and the age of the oldest (what other processes cannot see yet)."""
        return self._writer.lag(time.time())
