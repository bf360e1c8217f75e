"""States as Prefect 3 has them: what runs return, how returned states decide a flow's
outcome, and the State API (Prefect's tests/test_flows.py, tests/test_task_engine.py and
src/prefect/states.py ``return_value_to_state``, in our words)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest


def _tasks(pf: Any) -> tuple[Any, Any]:
    @pf.task
    def ok(x: Any) -> Any:
        return x

    @pf.task
    def bad() -> None:
        raise ValueError("boom")

    return ok, bad


# --- return_state ---------------------------------------------------------------------


def test_a_task_called_with_return_state_returns_its_state(pf: Any) -> None:
    ok, _ = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        inner = ok(1, return_state=True)
        return isinstance(inner, pf.State), inner.is_completed(), inner.result()

    assert my_flow() == (True, True, 1)


def test_a_task_called_outside_a_flow_with_return_state(pf: Any) -> None:
    ok, _ = _tasks(pf)
    state = ok(2, return_state=True)
    assert isinstance(state, pf.State)
    assert state.result() == 2


def test_a_failed_task_with_return_state_does_not_raise(pf: Any) -> None:
    _, bad = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        state = bad(return_state=True)
        error = state.result(raise_on_failure=False)
        return state.is_failed(), type(error), str(error)

    assert my_flow() == (True, ValueError, "boom")


def test_state_result_raises_the_runs_exception(pf: Any) -> None:
    _, bad = _tasks(pf)
    state = bad(return_state=True)
    with pytest.raises(ValueError, match="boom"):
        state.result()


def test_a_flow_called_with_return_state_returns_its_state(pf: Any) -> None:
    @pf.flow
    def my_flow() -> int:
        return 5

    state = my_flow(return_state=True)
    assert isinstance(state, pf.State)
    assert state.is_completed()
    assert state.result() == 5


# --- what a flow's returned states decide ---------------------------------------------


@pytest.mark.parametrize("how", ["state", "future"])
def test_a_flow_returning_a_failed_task_state_or_future_fails(pf: Any, how: str) -> None:
    _, bad = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return bad(return_state=True) if how == "state" else bad.submit()

    assert my_flow(return_state=True).is_failed()
    with pytest.raises(ValueError, match="boom"):
        my_flow()


def test_a_flow_returning_several_states_fails_if_any_failed(pf: Any) -> None:
    ok, bad = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return [ok(1, return_state=True), bad(return_state=True), bad(return_state=True)]

    state = my_flow(return_state=True)
    assert state.is_failed()
    assert state.message == "2/3 states failed."


def test_a_flow_returning_completed_states_completes(pf: Any) -> None:
    ok, _ = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return ok(1, return_state=True), ok(2, return_state=True)

    state = my_flow(return_state=True)
    assert state.is_completed()
    assert state.message == "All states completed."


def test_only_iterables_of_states_aggregate(pf: Any) -> None:
    # (None, state) is not all states: it is plain data, so the flow completes.
    _, bad = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return None, bad(return_state=True)

    state = my_flow(return_state=True)
    assert state.is_completed()
    first, second = state.result()
    assert first is None
    assert second.is_failed()


@pytest.mark.parametrize("how", ["state", "future"])
def test_a_flow_returning_a_task_state_or_future_returns_that_state(pf: Any, how: str) -> None:
    # Prefect resolves a returned future to its state; calling the flow gives the
    # task run's State, not its value (tests/test_task_runners.py asserts
    # ``test_flow().result() == 0`` for a flow that returns a future).
    ok, _ = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return ok(3, return_state=True) if how == "state" else ok.submit(3)

    returned = my_flow()
    assert isinstance(returned, pf.State)
    assert returned.is_completed()
    assert returned.result() == 3


def test_a_flow_returning_a_list_of_futures_returns_their_states(pf: Any) -> None:
    ok, _ = _tasks(pf)

    @pf.flow
    def my_flow() -> Any:
        return [ok.submit(3), ok.submit(4)]

    returned = my_flow()
    assert [type(s) for s in returned] == [pf.State, pf.State]
    assert [s.result() for s in returned] == [3, 4]


# --- returning State objects from the function ----------------------------------------


def test_a_flow_returning_completed_with_a_message_keeps_it(pf: Any) -> None:
    @pf.flow
    def my_flow() -> Any:
        return pf.states.Completed(message="all good")

    state = my_flow(return_state=True)
    assert state.is_completed()
    assert state.message == "all good"
    assert state.result() is None


def test_a_flow_returning_completed_with_data_returns_the_data(pf: Any) -> None:
    @pf.flow
    def my_flow() -> Any:
        return pf.states.Completed(data=4, message="four")

    assert my_flow() == 4


def test_a_flow_returning_failed_fails(pf: Any) -> None:
    @pf.flow
    def my_flow() -> Any:
        return pf.states.Failed(message="nope")

    state = my_flow(return_state=True)
    assert state.is_failed()
    assert state.message == "nope"
    with pytest.raises(pf.exceptions.FailedRun):
        my_flow()


def test_a_task_returning_failed_fails_and_is_retried(pf: Any) -> None:
    calls: list[int] = []

    @pf.task(retries=2)
    def flaky() -> Any:
        calls.append(1)
        return pf.states.Failed(message="nope")

    @pf.flow
    def my_flow() -> Any:
        state = flaky(return_state=True)
        return state.is_failed(), state.message

    assert my_flow() == (True, "nope")
    assert len(calls) == 3


def test_a_flow_returning_failed_is_retried(pf: Any) -> None:
    calls: list[int] = []

    @pf.flow(retries=1)
    def my_flow() -> Any:
        calls.append(1)
        if len(calls) == 1:
            return pf.states.Failed(message="first time")
        return "second time"

    assert my_flow() == "second time"
    assert len(calls) == 2


def test_a_failed_state_without_an_exception_raises_failed_run(pf: Any) -> None:
    error = pf.states.Failed(message="nope").result(raise_on_failure=False)
    assert isinstance(error, pf.exceptions.FailedRun)


# --- State.result() in async code -------------------------------------------------------


def test_state_result_is_awaitable_in_an_async_flow(pf: Any) -> None:
    ok, _ = _tasks(pf)

    @pf.flow
    async def my_flow() -> Any:
        state = ok(4, return_state=True)
        return await state.result()

    assert asyncio.run(my_flow()) == 4


def test_state_result_is_awaitable_in_async_code(pf: Any) -> None:
    async def main() -> Any:
        return await pf.states.Completed(data=5).result()

    assert asyncio.run(main()) == 5


def test_submit_with_return_state_in_an_async_flow(pf: Any) -> None:
    ok, _ = _tasks(pf)

    @pf.flow
    async def my_flow() -> Any:
        state = ok.submit(6, return_state=True)
        return await state.result()

    assert asyncio.run(my_flow()) == 6


# --- the State API ----------------------------------------------------------------------

STATES = [
    # factory, type, name
    ("Scheduled", "SCHEDULED", "Scheduled"),
    ("Late", "SCHEDULED", "Late"),
    ("AwaitingRetry", "SCHEDULED", "AwaitingRetry"),
    ("AwaitingConcurrencySlot", "SCHEDULED", "AwaitingConcurrencySlot"),
    ("Pending", "PENDING", "Pending"),
    ("Running", "RUNNING", "Running"),
    ("Retrying", "RUNNING", "Retrying"),
    ("Paused", "PAUSED", "Paused"),
    ("Suspended", "PAUSED", "Suspended"),
    ("Completed", "COMPLETED", "Completed"),
    ("Failed", "FAILED", "Failed"),
    ("Crashed", "CRASHED", "Crashed"),
    ("Cancelling", "CANCELLING", "Cancelling"),
    ("Cancelled", "CANCELLED", "Cancelled"),
]


@pytest.mark.parametrize("factory, type_, name", STATES)
def test_state_factories_set_type_and_name(pf: Any, factory: str, type_: str, name: str) -> None:
    state = getattr(pf.states, factory)()
    assert state.type == getattr(pf.states.StateType, type_)
    assert state.name == name


PREDICATES = {
    "COMPLETED": "is_completed",
    "FAILED": "is_failed",
    "CRASHED": "is_crashed",
    "CANCELLED": "is_cancelled",
    "CANCELLING": "is_cancelling",
    "PAUSED": "is_paused",
    "PENDING": "is_pending",
    "RUNNING": "is_running",
    "SCHEDULED": "is_scheduled",
}


@pytest.mark.parametrize("type_", sorted(PREDICATES))
def test_exactly_one_is_predicate_holds(pf: Any, type_: str) -> None:
    state = pf.State(type=getattr(pf.states.StateType, type_))
    holding = [p for p in PREDICATES.values() if getattr(state, p)()]
    assert holding == [PREDICATES[type_]]
    assert state.is_final() == (type_ in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


def test_a_state_built_from_its_type_is_named_after_it(pf: Any) -> None:
    state = pf.State(type=pf.states.StateType.COMPLETED, message="done")
    assert state.name == "Completed"
    assert state.message == "done"


def test_a_state_type_is_its_string_and_reads_as_its_name(pf: Any) -> None:
    import json

    kind = pf.states.StateType.COMPLETED
    assert kind == "COMPLETED" and kind.value == "COMPLETED"
    assert json.dumps({"type": kind}) == '{"type": "COMPLETED"}'
    assert repr(kind) == "StateType.COMPLETED"


def test_a_cache_hit_is_a_completed_state_named_cached(pf: Any) -> None:
    @pf.task(persist_result=True)
    def double(x: int) -> int:
        return 2 * x

    @pf.flow
    def my_flow() -> Any:
        return double(2, return_state=True), double(2, return_state=True)

    first, second = my_flow()
    assert (first.name, second.name) == ("Completed", "Cached")
    assert second.is_completed()
    assert second.result() == 4


def test_a_timed_out_task_is_a_failed_state_named_timed_out(pf: Any) -> None:
    @pf.task(timeout_seconds=0.1)
    def slow() -> None:
        time.sleep(0.5)

    @pf.flow
    def my_flow() -> Any:
        state = slow(return_state=True)
        return state.name, state.is_failed()

    started = time.monotonic()
    assert my_flow() == ("TimedOut", True)
    assert time.monotonic() - started < 5
