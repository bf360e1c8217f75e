"""The store's retention: pruning old finished runs with their files, and what the store holds.

Pruning deletes in short batches (see ``_retention``), pausing between them so the batched
writer and the workers get the database in between; the batch size adapts so that a batch
stays near ``BATCH_SECONDS`` whatever the runs hold (a run of ten tasks or of ten
thousand). Then the files: output notebooks Taskbook wrote under its data directory, and
local result files no remaining ``results`` row points at (a cached result a newer run
still uses stays, and so does a file written in the last minutes: its row may still be
in a writer's queue). Remote (fsspec) result files are left to the bucket's own lifecycle
rules. Last, ``ANALYZE`` so the planner sees the smaller tables, and ``VACUUM`` when asked
(SQLite rewrites the whole file, holding it meanwhile: an operator's choice, not a
default).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from sqlalchemy import text
from sqlalchemy.engine import Connection

from kernel_ext import _settings
from kernel_ext.store._engine import write_engine
from kernel_ext.store._transactions import Transactions

if TYPE_CHECKING:
    from kernel_ext.store._retention import Cut, Expired, RetentionPolicy
    from kernel_ext.store._store_sizes import TableSize

__all__ = ["BATCH_SECONDS", "PruneReport", "RetentionApi"]

BATCH_SECONDS = 0.05  # longest a batch should hold SQLite's write lock
PAUSE_SECONDS = 0.02  # between batches: the other writers' turn
FIRST_BATCH = 8  # flow runs in the first batch (see RetentionApi._prune)
_EVENT_BATCH = 2000  # recorded events per transaction
# A result file written this recently stays even if no row points at it yet: a cache hit
# that wrote it again may still have its row in a writer's queue.
FRESH_SECONDS = 300.0


class PruneReport(TypedDict):
    """What a prune removed (or, dry, would remove) and how long it took."""

    dry_run: bool
    flow_runs: int
    subflows: int
    task_runs: int
    states: int
    log_lines: int
    results: int
    input_requests: int
    artifacts: int
    events: int  # recorded events (state changes go with their runs' states)
    result_files: int
    output_notebooks: int
    batches: int
    seconds: float
    maintenance: list[str]


class RetentionApi(Transactions):
    """Deletes finished runs older than a cut, in batches that leave writers room."""

    def prune_runs(
        self,
        older_than: float,
        keep_failed: float | None = None,
        deployment: str | None = None,
        dry_run: bool = False,
        vacuum: bool = False,
        batch: int = 500,  # flow runs per transaction, at most
        now: float | None = None,
    ) -> PruneReport:
        """Delete the top-level runs in a final state that ended more than ``older_than``
        seconds ago (failed or crashed ones ``keep_failed`` seconds ago, if longer), of
        ``deployment`` only when given, with everything under them and their files; or,
        with ``dry_run``, count what would go and change nothing."""
        from kernel_ext.store._retention_policies import cut_of

        started = time.monotonic()
        policy: RetentionPolicy = {
            "older_than": older_than,
            "keep": None,
            "keep_failed": keep_failed,
        }
        cut = cut_of(policy, time.time() if now is None else now, deployment)
        if dry_run:
            return self._count(cut, started)
        done, files, notebooks = self._prune(cut, batch, None)
        events = self._prune_events(cut, None)
        maintenance = self._maintain(vacuum)
        return _report(False, done, files, notebooks, started, maintenance, events)

    def set_retention(
        self, policy: RetentionPolicy | None, deployment: str | None = None
    ) -> RetentionPolicy | None:
        """Set the retention policy of ``deployment``, or the store-wide default (which
        covers runs outside deployments and the deployments without one); None clears it."""
        from kernel_ext.store import _retention_policies

        return self._write(_retention_policies.write_policy, policy, deployment)

    def read_retention(self, deployment: str | None = None) -> RetentionPolicy | None:
        """The retention policy of ``deployment`` (its own), or the store-wide default."""
        from kernel_ext.store import _retention_policies

        return self._read(_retention_policies.read_policy, deployment)

    def apply_retention(
        self, now: float | None = None, dry_run: bool = False, max_batches: int | None = None
    ) -> PruneReport:
        """Prune to every policy in the store (see ``set_retention``), at most
        ``max_batches`` batches per policy (the scheduler's bounded share of a tick; the
        rest waits for the next one); or, with ``dry_run``, count what they would remove."""
        from kernel_ext.store import _retention_policies

        started = time.monotonic()
        now = time.time() if now is None else now
        cuts = self._read(_retention_policies.policy_cuts, now)
        if dry_run:
            reports = [self._count(cut, started) for _, cut in cuts]
            return _sum(reports, True, started)
        done: list[Expired] = []
        files = notebooks = events = 0
        for _, cut in cuts:
            some, more_files, more_notebooks = self._prune(cut, 500, max_batches)
            done += some
            files, notebooks = files + more_files, notebooks + more_notebooks
            events += self._prune_events(cut, max_batches)
        return _report(False, done, files, notebooks, started, [], events)

    def table_sizes(self) -> list[TableSize]:
        """Rows and bytes on disk of each of the store's tables, largest first."""
        from kernel_ext.store import _store_sizes

        return self._read(_store_sizes.table_sizes)

    def database_bytes(self) -> int:
        """The whole database's size on disk."""
        from kernel_ext.store import _store_sizes

        return self._read(_store_sizes.database_bytes)

    def _count(self, cut: Cut, started: float) -> PruneReport:
        from kernel_ext.store import _retention

        expired, tasks = self._read(_retention.count_expired, cut)
        files = self._read(_unreferenced, expired.locations, tasks)
        ours = [path for path in expired.notebooks if _ours(path)]
        events = 0
        if cut.deployment is None and cut.before is not None:
            events = self._read(_retention.count_old_events, cut.before)
        return _report(True, [expired], len(files), len(ours), started, [], events)

    def _prune_events(self, cut: Cut, max_batches: int | None) -> int:
        """The store-wide cut's share: recorded events older than it (a deployment's own
        policy is about its runs only)."""
        from kernel_ext.store import _retention

        if cut.deployment is not None or cut.before is None:
            return 0
        removed = batches = 0
        while max_batches is None or batches < max_batches:
            deleted = self._write(_retention.delete_old_events, cut.before, _EVENT_BATCH)
            removed, batches = removed + deleted, batches + 1
            if deleted < _EVENT_BATCH:
                break
            time.sleep(PAUSE_SECONDS)
        return removed

    def _prune(
        self, cut: Cut, batch: int, max_batches: int | None
    ) -> tuple[list[Expired], int, int]:
        """Delete in batches of at most ``batch`` flow runs, starting small: how much a run
        holds is unknown until its first batch has been timed."""
        from kernel_ext.store import _retention

        done: list[Expired] = []
        files = notebooks = 0
        # Entries kept for a cache by an earlier prune, whose cache has expired since.
        orphans = self._write(_retention.delete_expired_orphans, datetime.now(UTC), 5000)
        files += _remove_results(self._read(_unreferenced, orphans))
        size = min(batch, FIRST_BATCH)
        while max_batches is None or len(done) < max_batches:
            began = time.monotonic()
            expired = self._write(_retention.delete_batch, cut, size)
            size = _next_size(size, time.monotonic() - began, batch)
            if expired.flow_runs == 0:
                return done, files, notebooks
            done.append(expired)
            files += _remove_results(self._read(_unreferenced, expired.locations))
            notebooks += sum(1 for path in expired.notebooks if _remove_notebook(path))
            time.sleep(PAUSE_SECONDS)
        return done, files, notebooks

    def _maintain(self, vacuum: bool) -> list[str]:
        statements = ["VACUUM", "ANALYZE"] if vacuum else ["ANALYZE"]
        engine = write_engine(self._engine)
        # Neither may run inside a transaction block (VACUUM) or needs one (ANALYZE).
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()  # the driver's autocommit connection (see _engine)
            try:
                # Sampled statistics: a full ANALYZE of millions of rows would hold the
                # write lock for seconds (SQLite's own advice for long-lived databases).
                raw.cursor().execute("PRAGMA analysis_limit = 1000")
                for statement in statements:
                    raw.cursor().execute(statement)
            finally:
                raw.close()
        else:
            with engine.connect() as connection:
                autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    autocommit.execute(text(statement))
        return statements


def _next_size(size: int, seconds: float, largest: int) -> int:
    """Halve the batch when it held the lock too long, grow it when well under."""
    if seconds > BATCH_SECONDS:
        return max(1, size // 2)
    if seconds < BATCH_SECONDS / 3:
        return min(size * 2, largest)
    return size


def _unreferenced(
    connection: Connection, locations: list[str], besides: Sequence[str] = ()
) -> list[str]:
    from kernel_ext.store import _retention

    kept = _retention.referenced(connection, locations, besides)
    return [location for location in locations if location not in kept and _local(location)]


def _local(location: str) -> bool:
    return "://" not in location or location.startswith("file://")


def _remove_results(locations: list[str]) -> int:
    removed, fresh = 0, time.time() - FRESH_SECONDS
    for location in locations:
        path = Path(location.removeprefix("file://"))
        with contextlib.suppress(OSError):  # already gone, or not ours to remove: it stays
            if path.stat().st_mtime < fresh:  # not just written again (see FRESH_SECONDS)
                path.unlink()
                removed += 1
    return removed


def _remove_notebook(location: str) -> bool:
    if not _ours(location):
        return False
    with contextlib.suppress(OSError):
        Path(location).unlink()
        return True
    return False


def _ours(location: str) -> bool:
    """A file Taskbook wrote under its data directory's outputs (nothing elsewhere)."""
    outputs = (_settings.home() / "outputs").resolve()
    path = Path(location).resolve()
    return path.is_relative_to(outputs) and path.exists()


def _sum(reports: list[PruneReport], dry: bool, started: float) -> PruneReport:
    total = _report(dry, [], 0, 0, started, [])
    for report in reports:
        for key, value in report.items():
            if isinstance(value, int) and not isinstance(value, bool) and key != "batches":
                total[key] += value  # type: ignore[literal-required]
    return total


def _report(
    dry: bool,
    done: list[Expired],
    files: int,
    notebooks: int,
    started: float,
    upkeep: list[str],
    events: int = 0,
) -> PruneReport:
    roots = sum(expired.flow_runs for expired in done)

    def total(key: str) -> int:
        return sum(cast("dict[str, int]", expired.removed)[key] for expired in done)

    return {
        "dry_run": dry,
        "flow_runs": roots,
        "subflows": total("subflows") - roots,
        "task_runs": total("task_runs"),
        "states": total("states"),
        "log_lines": total("log_lines"),
        "results": total("results"),
        "input_requests": total("input_requests"),
        "artifacts": total("artifacts"),
        "events": events,
        "result_files": files,
        "output_notebooks": notebooks,
        "batches": len(done),
        "seconds": round(time.monotonic() - started, 3),
        "maintenance": upkeep,
    }
