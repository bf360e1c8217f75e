"""The notebook's task graph: task cells, the names they read and bind, and staleness.

A task cell's inputs are the names it reads that exist when it runs (bound by an earlier
cell); its outputs are the names it binds. Cell B depends on cell A when B reads a name
whose latest binding came from A. When A runs again and one of its outputs changes,
everything downstream of A that has run is stale until it runs again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kernel_ext._hashing import UnhashableValue, hash_value

__all__ = ["NotebookGraph", "TaskCell"]


@dataclass(slots=True, eq=False)
class TaskCell:
    """One ``%%task`` cell as last executed."""

    name: str
    line: str
    body: str
    refs: frozenset[str] = frozenset()
    defs: frozenset[str] = frozenset()
    inputs: tuple[str, ...] = ()
    state: str = "Pending"
    stale: bool = False
    duration: float | None = None
    last_task_run_id: str | None = None
    order: int = 0
    fingerprints: dict[str, str] = field(default_factory=dict)


class NotebookGraph:
    """Task cells by name, which cell last bound each name, and staleness."""

    def __init__(self) -> None:
        self.cells: dict[str, TaskCell] = {}
        self.producers: dict[str, str] = {}
        self._order = 0

    def record_source(
        self, name: str, line: str, body: str, refs: frozenset[str], defs: frozenset[str]
    ) -> TaskCell:
        cell = self.cells.get(name)
        if cell is None:
            cell = self.cells[name] = TaskCell(name, line, body)
        cell.line, cell.body, cell.refs, cell.defs = line, body, refs, defs
        return cell

    def upstream_cells(self, cell: TaskCell) -> list[TaskCell]:
        """The task cells that last bound the names ``cell`` reads."""
        names = {self.producers.get(ref) for ref in cell.inputs}
        return [self.cells[n] for n in sorted(n for n in names if n and n != cell.name)]

    def record_run(
        self,
        cell: TaskCell,
        state: str,
        duration: float | None,
        task_run_id: str,
        namespace: dict[str, Any],
        cache_key: str | None = None,
    ) -> list[str]:
        """Note a finished run of ``cell``; returns the names of cells it made stale.

        A cached cell's outputs are identified by its cache key (same key, same values),
        which spares hashing large outputs again after every run or restore.
        """
        self._order += 1
        cell.state, cell.duration, cell.last_task_run_id = state, duration, task_run_id
        cell.order = self._order
        if state not in ("Completed", "Cached"):
            return []
        cell.stale = False
        changed = self._refresh_fingerprints(cell, namespace, cache_key)
        for name in cell.defs:
            self.producers[name] = cell.name
        return self._mark_downstream_stale(cell.name, changed)

    def record_plain_cell(self, defs: frozenset[str]) -> None:
        """A cell without ``%%task`` rebound these names: they no longer come from a task."""
        for name in defs:
            self.producers.pop(name, None)

    def stale_cells_in_order(self) -> list[TaskCell]:
        """Stale cells, upstream ones first (then in the order they last ran)."""
        stale = [c for c in self.cells.values() if c.stale]
        ordered: list[TaskCell] = []
        placed: set[str] = set()
        while stale:
            ready = [
                c
                for c in stale
                if not (
                    {u.name for u in self.upstream_cells(c)} & {s.name for s in stale if s is not c}
                )
            ]
            batch = sorted(ready or stale, key=lambda c: c.order)[:1]
            ordered.extend(batch)
            placed.update(c.name for c in batch)
            stale = [c for c in stale if c.name not in placed]
        return ordered

    def _refresh_fingerprints(
        self, cell: TaskCell, namespace: dict[str, Any], cache_key: str | None
    ) -> set[str]:
        changed = set()
        for name in cell.defs:
            if cache_key is not None:
                fingerprint = f"cache:{cache_key}"
            else:
                fingerprint = _fingerprint(namespace.get(name, _MISSING))
            if cell.fingerprints.get(name) not in (None, fingerprint):
                changed.add(name)
            cell.fingerprints[name] = fingerprint
        return changed

    def _mark_downstream_stale(self, source: str, changed: set[str]) -> list[str]:
        marked: list[str] = []
        frontier = [(source, changed)]
        while frontier:
            producer, names = frontier.pop()
            for cell in self.cells.values():
                if cell.name == producer or cell.stale or cell.order == 0:
                    continue
                if names & set(cell.inputs):
                    cell.stale = True
                    marked.append(cell.name)
                    frontier.append((cell.name, set(cell.defs)))
        return marked


_MISSING = object()


_LARGE = 16 * 2**20


def _fingerprint(value: Any) -> str:
    """A value's content hash; its identity when it cannot be hashed or is a large array.

    Hashing a large array after every run would cost more than many cells do (about
    100 ms per 100 MB); a new large array object counts as a change instead.
    """
    if value is _MISSING:
        return "missing"
    if getattr(value, "nbytes", 0) > _LARGE:
        return f"id:{id(value)}"
    try:
        return hash_value(value)
    except UnhashableValue:
        return f"id:{id(value)}:{time.monotonic_ns()}"
