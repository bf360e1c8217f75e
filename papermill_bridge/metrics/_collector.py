"""The Prometheus collector: reads the store at scrape time and yields metric families.

The figures come from the store, not from this process's counters, because many
processes (kernels, workers, schedulers on other machines) write it: every process that
serves ``/metrics`` tells the same story. Only the writer lag is this process's own.

A store that cannot be read makes ``taskbook_store_up`` 0 and the scrape still answers
(as database exporters do), so an alert can tell "the store is down" from "no data".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kernel_ext.store import get_store

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import (
        DurationBuckets,
        LimitRecord,
        RunCount,
        StoreMetrics,
        WriterLag,
    )

__all__ = ["StoreCollector"]

_log = logging.getLogger("taskbook.metrics")


class StoreCollector(Collector):
    """Yields Taskbook's metrics from the current store at each scrape.

    ``window`` (seconds) bounds the finished runs counted and the durations bucketed;
    ``writer_lag`` adds this process's store writer lag (for a process that writes).
    """

    def __init__(
        self,
        store: Callable[[], Store] = get_store,
        window: float = 3600.0,
        writer_lag: bool = True,
    ) -> None:
        self._store = store
        self.window = window
        self.writer_lag = writer_lag

    def describe(self) -> list[Metric]:
        # Registering must not scrape (the store may be slow or down at that moment).
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            store = self._store()
            metrics = store.read_metrics(self.window)
            limits = store.list_limits()
            lag = store.writer_lag() if self.writer_lag else None
        except Exception as error:  # the scrape still answers; the log says why
            _log.warning("[taskbook] metrics: the store could not be read: %s", error)
            yield _gauge("taskbook_store_up", "Whether the store answered this scrape.", 0)
            return
        yield _gauge("taskbook_store_up", "Whether the store answered this scrape.", 1)
        yield _gauge(
            "taskbook_store_scrape_duration_seconds",
            "How long this scrape's store queries took.",
            time.perf_counter() - started,
        )
        yield _gauge(
            "taskbook_metrics_window_seconds",
            "The window of the *_recent metrics and the duration histograms.",
            metrics["window"],
        )
        yield from _runs(metrics)
        yield from _queues(metrics)
        yield from _workers(metrics)
        yield from _limits(limits)
        if lag is not None:
            yield from _writer(lag)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(
    name: str, documentation: str, labels: list[str], rows: Iterable[tuple[list[str], float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family


def _by_state(counts: list[RunCount], deployment: bool) -> list[tuple[list[str], float]]:
    return [
        (
            [c["state_type"].value, c["deployment"] or ""]
            if deployment
            else [c["state_type"].value],
            c["count"],
        )
        for c in counts
    ]


def _runs(metrics: StoreMetrics) -> Iterator[Metric]:
    yield _labelled(
        "taskbook_flow_runs",
        "Flow runs not finished, by state type and deployment (empty: not a deployment run).",
        ["state_type", "deployment"],
        _by_state(metrics["unfinished_flow_runs"], deployment=True),
    )
    yield _labelled(
        "taskbook_flow_runs_recent",
        "Flow runs that ended within the window, by final state type and deployment.",
        ["state_type", "deployment"],
        _by_state(metrics["ended_flow_runs"], deployment=True),
    )
    yield _labelled(
        "taskbook_task_runs_recent",
        "Task runs created within the window, by their state type now.",
        ["state_type"],
        _by_state(metrics["recent_task_runs"], deployment=False),
    )
    yield _histogram(
        "taskbook_flow_run_duration_seconds",
        "Durations of the flow runs that ended within the window (start to end).",
        ["state_type", "deployment"],
        metrics["flow_run_durations"],
    )
    yield _histogram(
        "taskbook_task_run_duration_seconds",
        "Durations of the task runs created within the window that have ended.",
        ["state_type"],
        metrics["task_run_durations"],
    )


def _histogram(
    name: str, documentation: str, labels: list[str], rows: list[DurationBuckets]
) -> GaugeHistogramMetricFamily:
    """A gauge histogram: the runs of the window as they are now, not a running total,
    so ``histogram_quantile`` reads it directly (no ``rate`` needed)."""
    family = GaugeHistogramMetricFamily(name, documentation, labels=labels)
    for row in rows:
        values = [row["state_type"].value]
        if "deployment" in labels:
            values.append(row["deployment"] or "")
        buckets = [
            (_bound(b), float(n)) for b, n in zip(row["bounds"], row["cumulative"], strict=True)
        ]
        buckets.append(("+Inf", float(row["count"])))
        family.add_metric(values, buckets, gsum_value=row["sum"])
    return family


def _bound(value: float) -> str:
    return repr(float(value))


def _queues(metrics: StoreMetrics) -> Iterator[Metric]:
    queues = metrics["queues"]
    yield _labelled(
        "taskbook_queue_depth",
        "Scheduled deployment runs due now that no worker has claimed (Late ones included).",
        ["deployment"],
        (([q["deployment"]], q["due"]) for q in queues),
    )
    yield _labelled(
        "taskbook_late_runs",
        "Deployment runs marked Late: still waiting a minute after their scheduled time.",
        ["deployment"],
        (([q["deployment"]], q["late"]) for q in queues),
    )
    yield _labelled(
        "taskbook_queue_oldest_age_seconds",
        "How long the oldest due run of each deployment has waited past its scheduled time.",
        ["deployment"],
        (([q["deployment"]], q["oldest_due_age"] or 0.0) for q in queues),
    )


def _workers(metrics: StoreMetrics) -> Iterator[Metric]:
    workers = metrics["workers"]
    yield _labelled(
        "taskbook_worker_runs",
        "Runs each worker holds now (Pending, Running or Cancelling).",
        ["worker"],
        (([w["worker_id"]], w["runs"]) for w in workers),
    )
    yield _labelled(
        "taskbook_worker_heartbeat_age_seconds",
        "Seconds since each busy worker's latest heartbeat (its runs crash after 30 s).",
        ["worker"],
        (([w["worker_id"]], w["heartbeat_age"]) for w in workers if w["heartbeat_age"] is not None),
    )


def _limits(limits: list[LimitRecord]) -> Iterator[Metric]:
    slotted = [limit for limit in limits if limit["slots"] is not None]
    yield _labelled(
        "taskbook_limit_slots",
        "Slots of each concurrency limit.",
        ["limit"],
        (([limit["name"]], limit["slots"] or 0) for limit in slotted),
    )
    yield _labelled(
        "taskbook_limit_slots_used",
        "Slots of each concurrency limit held by unexpired leases now.",
        ["limit"],
        (([limit["name"]], limit["used"]) for limit in slotted),
    )
    yield _labelled(
        "taskbook_limit_holders",
        "Holders (leases) of each concurrency limit now.",
        ["limit"],
        (([limit["name"]], limit["holders"]) for limit in slotted),
    )


def _writer(lag: WriterLag) -> Iterator[Metric]:
    yield _gauge(
        "taskbook_store_writer_queued_events",
        "Events of this process not committed to the store yet.",
        lag["queued"],
    )
    yield _gauge(
        "taskbook_store_writer_oldest_event_age_seconds",
        "Age of this process's oldest event not committed yet (0 when none waits).",
        lag["oldest_age"] or 0.0,
    )
