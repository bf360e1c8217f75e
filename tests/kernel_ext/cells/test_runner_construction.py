"""How ``%%task`` builds a cell's task and reads its final state.

The task is made with everything a cell needs (its key, no resume lookup, caching by the
cell's key) so that nothing sees, or copies, a task still being set up; the runner acts on
the type of the final state, not on its display name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kernel_ext._context import TaskRunContext
from kernel_ext._states import State, StateType
from kernel_ext.engine.task_run import run_task_sync


def run(shell: Any, source: str) -> Any:
    return shell.run_cell(source, store_history=True)


def flow_run(shell: Any) -> Any:
    from kernel_ext.store import get_store

    store = get_store()
    store.flush()
    (run_row,) = store.list_flow_runs()
    return store.read_flow_run(run_row["id"])


def test_a_cell_run_is_recorded_under_the_cell_task_key(shell: Any) -> None:
    assert run(shell, "%%task fetch\nvalue = 1").success
    record = flow_run(shell)
    (task_run,) = record["task_runs"]
    assert task_run["task_key"] == f"cell:{record['flow_name']}:fetch"


@pytest.mark.parametrize("line", ["%%task fetch", "%%task fetch --cache"])
def test_the_cell_task_is_made_with_its_key_and_copies_keep_it(shell: Any, line: str) -> None:
    captured: list[Any] = []

    def capture() -> None:  # called by the cell's body, in its task run
        context = TaskRunContext.get()
        assert context is not None
        captured.append(context.task)

    shell.user_ns["capture"] = capture
    assert run(shell, f"{line}\ncapture()").success
    (cell_task,) = captured
    record = flow_run(shell)
    expected = (f"cell:{record['flow_name']}:fetch", False, "--cache" in line)
    assert (cell_task.task_key, cell_task.resumable, cell_task.caches) == expected
    copy = cell_task.with_options(retries=1)
    assert (copy.task_key, copy.resumable, copy.caches) == expected
    assert copy.retries == 1


@pytest.fixture
def renamed_states(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Final states of cell runs come back under other names, with the same types."""

    def renaming(engine: Any, return_state: bool = False) -> Any:
        state: State = run_task_sync(engine, return_state)
        return State(state.type, f"{state.name} (renamed)", state.message, state.data)

    monkeypatch.setattr("kernel_ext.cells._runner.run_task_sync", renaming)
    yield


@pytest.mark.usefixtures("renamed_states")
def test_outcomes_follow_the_state_type_not_its_name(shell: Any, capsys: Any) -> None:
    cell = "%%task square --cache\nprint('BODY RAN')\nsquared = base ** 2"
    run(shell, "base = 3")
    assert run(shell, cell).success  # COMPLETED: the outputs are kept
    run(shell, "del squared")
    assert run(shell, cell).success  # COMPLETED without running: they are restored
    out = capsys.readouterr().out
    assert shell.user_ns["squared"] == 9 and out.count("BODY RAN") == 1
    assert "restored squared without running" in out
    failed = run(shell, "%%task broken\nraise ValueError('no')")
    assert not failed.success and isinstance(failed.error_in_exec, ValueError)
    states = [(t["state"], t["state_type"]) for t in flow_run(shell)["task_runs"]]
    assert states == [
        ("Completed", StateType.COMPLETED.value),
        ("Cached", StateType.COMPLETED.value),
        ("Failed", StateType.FAILED.value),
    ]
