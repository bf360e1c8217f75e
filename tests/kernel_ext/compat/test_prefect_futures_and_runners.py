"""Futures and task runners as Prefect 3 has them (tests/test_futures.py,
tests/test_task_runners.py and src/prefect/task_runners.py, in our words): submitting,
mapping, waiting, timeouts, dependencies, and the runner's own API."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest


def _identity(pf: Any) -> Any:
    @pf.task
    def identity(x: Any) -> Any:
        return x

    return identity


def test_recursively_submitted_tasks_do_not_deadlock_the_default_runner(pf: Any) -> None:
    # 33 nested submissions each block a worker: more than any fixed default pool has.
    @pf.task
    def countdown(n: int) -> int:
        if n == 0:
            return 0
        return countdown.submit(n - 1).result()

    @pf.flow
    def my_flow() -> int:
        return countdown.submit(33).result()

    assert my_flow() == 0


def test_result_with_a_timeout_raises_timeout_error(pf: Any) -> None:
    @pf.task
    def slow() -> int:
        time.sleep(0.3)
        return 1

    @pf.flow
    def my_flow() -> Any:
        future = slow.submit()
        with pytest.raises(TimeoutError):
            future.result(timeout=0.01)
        return future.result()

    assert my_flow() == 1


def test_submit_with_return_state_waits_and_returns_the_state(pf: Any) -> None:
    identity = _identity(pf)

    @pf.flow
    def my_flow() -> Any:
        state = identity.submit(5, return_state=True)
        return isinstance(state, pf.State), state.is_final(), state.result()

    assert my_flow() == (True, True, 5)


def test_a_future_has_an_id_a_state_and_waits(pf: Any) -> None:
    identity = _identity(pf)

    @pf.flow
    def my_flow() -> Any:
        future = identity.submit(1)
        future.wait()
        return future.task_run_id, future.state.is_completed(), future.result()

    run_id, completed, value = my_flow()
    # Prefect's ids are UUID objects, Taskbook's their text (as its store keeps them).
    assert uuid.UUID(str(run_id))
    assert (completed, value) == (True, 1)


def test_futures_passed_to_tasks_are_resolved(pf: Any) -> None:
    @pf.task
    def add(x: int, y: int) -> int:
        return x + y

    @pf.flow
    def my_flow() -> int:
        one = add.submit(0, 1)
        return add(one, add.submit(one, 1))

    assert my_flow() == 3


def test_map_over_a_future_of_a_list(pf: Any) -> None:
    @pf.task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @pf.task
    def add(x: int, y: int) -> int:
        return x + y

    @pf.flow
    def my_flow() -> Any:
        return add.map(numbers.submit(), pf.unmapped(10)).result()

    assert my_flow() == [11, 12, 13]


def test_map_broadcasts_unmapped_and_keeps_order(pf: Any) -> None:
    @pf.task
    def pair(x: int, y: Any) -> tuple[int, Any]:
        return x, y

    @pf.flow
    def my_flow() -> Any:
        return pair.map([1, 2, 3], y=pf.unmapped([0])).result()

    assert my_flow() == [(1, [0]), (2, [0]), (3, [0])]


def test_wait_returns_done_and_not_done(pf: Any) -> None:
    identity = _identity(pf)

    @pf.flow
    def my_flow() -> Any:
        futures = [identity.submit(i) for i in range(3)]
        outcome = pf.futures.wait(futures)
        return len(outcome.done), len(outcome.not_done)

    assert my_flow() == (3, 0)


def test_as_completed_yields_every_future(pf: Any) -> None:
    identity = _identity(pf)

    @pf.flow
    def my_flow() -> Any:
        futures = [identity.submit(i) for i in range(4)]
        return sorted(f.result() for f in pf.futures.as_completed(futures))

    assert my_flow() == [0, 1, 2, 3]


def test_wait_for_orders_tasks_and_subflows(pf: Any) -> None:
    order: list[str] = []

    @pf.task
    def step(name: str) -> str:
        time.sleep(0.05)
        order.append(name)
        return name

    @pf.flow
    def subflow() -> str:
        order.append("subflow")
        return "subflow"

    @pf.flow
    def my_flow() -> None:
        first = step.submit("first")
        subflow(wait_for=[first])
        step.submit("last", wait_for=[first]).wait()

    my_flow()
    assert order == ["first", "subflow", "last"]


def test_wait_for_a_failed_upstream_with_allow_failure(pf: Any) -> None:
    identity = _identity(pf)

    @pf.task
    def bad() -> None:
        raise ValueError("boom")

    @pf.flow
    def my_flow() -> Any:
        failed = bad.submit()
        return identity.submit(1, wait_for=[pf.allow_failure(failed)]).result()

    assert my_flow() == 1


def test_a_failed_upstream_keeps_a_dependent_task_from_running(pf: Any) -> None:
    ran: list[int] = []

    @pf.task
    def bad() -> None:
        raise ValueError("boom")

    @pf.task
    def downstream() -> None:
        ran.append(1)

    @pf.flow
    def my_flow() -> Any:
        state = downstream.submit(wait_for=[bad.submit()], return_state=True)
        return state.is_completed(), state.name

    completed, name = my_flow()
    assert not completed
    # Prefect leaves the dependent Pending ("NotReady") for good; Taskbook ends it Failed,
    # so that no run stays unfinished (a difference on purpose, see the README).
    assert name == ("NotReady" if pf.name == "prefect" else "Failed")
    assert ran == []


def test_async_tasks_can_be_submitted(pf: Any) -> None:
    @pf.task
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    @pf.flow
    def my_flow() -> Any:
        return [f.result() for f in [double.submit(1), double.submit(2)]]

    assert my_flow() == [2, 4]


# --- arguments are passed by reference --------------------------------------------------


def test_a_task_receives_its_arguments_by_reference(pf: Any) -> None:
    identity = _identity(pf)
    thing = object()

    @pf.flow
    def my_flow() -> Any:
        return identity(thing) is thing, identity.submit(thing).result() is thing

    assert my_flow() == (True, True)


def test_in_place_changes_a_task_makes_reach_the_caller(pf: Any) -> None:
    @pf.task
    def append_one(items: list[int]) -> None:
        items.append(1)

    @pf.flow
    def my_flow() -> list[int]:
        items: list[int] = []
        append_one(items)
        append_one.submit(items).wait()
        return items

    assert my_flow() == [1, 1]


# --- ThreadPoolTaskRunner's own API -----------------------------------------------------


def test_the_runner_submits_a_task_with_a_parameters_dict(pf: Any) -> None:
    @pf.task
    def add(x: int, y: int) -> int:
        return x + y

    with pf.task_runners.ThreadPoolTaskRunner() as runner:
        future = runner.submit(add, {"x": 1, "y": 2})
        assert future.result() == 3


def test_the_runner_maps_a_task_over_a_parameters_dict(pf: Any) -> None:
    @pf.task
    def add(x: int, y: int) -> int:
        return x + y

    with pf.task_runners.ThreadPoolTaskRunner(max_workers=2) as runner:
        futures = runner.map(add, {"x": [1, 2, 3], "y": pf.unmapped(10)})
        assert [f.result() for f in futures] == [11, 12, 13]


def test_the_runner_must_be_started(pf: Any) -> None:
    @pf.task
    def noop() -> None:
        pass

    with pytest.raises(RuntimeError):
        pf.task_runners.ThreadPoolTaskRunner().submit(noop, {})


def test_duplicate_gives_an_equal_fresh_runner(pf: Any) -> None:
    runner = pf.task_runners.ThreadPoolTaskRunner(max_workers=3)
    copy = runner.duplicate()
    assert copy is not runner
    assert copy == runner


def test_a_flow_uses_the_given_runner(pf: Any) -> None:
    identity = _identity(pf)

    @pf.flow(task_runner=pf.task_runners.ThreadPoolTaskRunner(max_workers=2))
    def my_flow() -> Any:
        return identity.map(range(5)).result()

    assert my_flow() == [0, 1, 2, 3, 4]
