"""Helpers shared by the runtime tests."""

from __future__ import annotations

from typing import Any


def last_flow_run(store: Any) -> dict[str, Any]:
    """The newest flow run, with its task runs."""
    runs = store.list_flow_runs(limit=1)
    assert runs, "no flow run was recorded"
    return store.read_flow_run(runs[0]["id"])  # type: ignore[no-any-return]


def states_of(store: Any, run_id: str) -> list[str]:
    return [s["name"] for s in store.read_history(run_id)]
