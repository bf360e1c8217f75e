"""From what a run's body returned to the state the run ends in, by Prefect's rules.

- A state made by hand (``return Failed(message=...)``) is the run's state as it is.
- A run's state, or a non-empty list/tuple/set of nothing but states, aggregates: all
  completed gives Completed ("All states completed."), else Cancelled, Paused or Failed
  ("2/3 states failed."), holding the states as data.
- Anything else completes with the value as data.

A flow's returned futures are first replaced by their final states (anywhere in lists,
tuples, sets and dicts), so ``return a.submit()`` makes the flow's outcome that of the
task run, and the caller receives the state, as in Prefect.
"""

from __future__ import annotations

from typing import Any

from kernel_ext import _states as states
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList
from kernel_ext._states import State, StateType, is_state_iterable

__all__ = ["resolve_futures_to_states", "return_value_to_state"]


def return_value_to_state(value: Any) -> State:
    if not isinstance(value, (State, list, tuple, set)):  # the common case: a value
        return states.Completed(data=value)
    if isinstance(value, State) and value.run_id is None:
        return value
    if isinstance(value, State) or is_state_iterable(value):
        return _aggregate([value] if isinstance(value, State) else list(value), value)
    return states.Completed(data=value)


def _aggregate(group: list[State], data: Any) -> State:
    total = len(group)
    counts = {kind: sum(1 for s in group if s.type is kind) for kind in StateType}
    if counts[StateType.COMPLETED] == total:
        return State(StateType.COMPLETED, message="All states completed.", data=data)
    if counts[StateType.CANCELLED]:
        message = f"{counts[StateType.CANCELLED]}/{total} states cancelled."
        return State(StateType.CANCELLED, message=message, data=data)
    if counts[StateType.PAUSED]:
        message = f"{counts[StateType.PAUSED]}/{total} states paused."
        return State(StateType.PAUSED, message=message, data=data)
    failed = counts[StateType.FAILED] + counts[StateType.CRASHED]
    if failed:
        message = f"{failed}/{total} states failed."
    else:
        unfinished = sum(1 for s in group if not s.is_final())
        message = f"{unfinished}/{total} states are not final."
    return State(StateType.FAILED, message=message, data=data)


def resolve_futures_to_states(value: Any) -> Any:
    """``value`` with every future in it waited for and replaced by its final state;
    containers are rebuilt only where something was replaced."""
    if isinstance(value, TaskRunFuture):
        value.wait()
        state = value.state
        if state.run_id is None:  # made by a runner (Dask), not set by an engine
            state.run_id = value.task_run.id
        return state
    if isinstance(value, TaskRunFutureList):
        if value:
            type(value[0]).fetch_many(value)  # one round trip (Dask), not one each
        return [resolve_futures_to_states(v) for v in value]
    if type(value) in (list, tuple, set, frozenset):
        items = [resolve_futures_to_states(v) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if type(value) is dict:
        pairs = {k: resolve_futures_to_states(v) for k, v in value.items()}
        return value if all(pairs[k] is v for k, v in value.items()) else pairs
    return value
