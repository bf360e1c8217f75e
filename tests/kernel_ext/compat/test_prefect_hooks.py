"""State-change hooks as Prefect 3 runs them (tests/test_flows.py ``TestFlowHooks*`` and
tests/test_tasks.py ``TestTaskHooks*``, in our words): which hooks run on which final
state, given as lists or by decorator, sync or async, and never changing the outcome."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest


def _recorder(calls: list[Any], label: str) -> Any:
    def hook(obj: Any, run: Any, state: Any) -> None:
        calls.append((label, state.name))

    return hook


def _async_recorder(calls: list[Any], label: str) -> Any:
    async def hook(obj: Any, run: Any, state: Any) -> None:
        await asyncio.sleep(0)
        calls.append((label, state.name))

    return hook


# --- flows ------------------------------------------------------------------------------

FLOW_CASES = [
    # hook kind, what the flow does, the state name its hooks see
    ("on_completion", "return", "Completed"),
    ("on_failure", "raise", "Failed"),
    ("on_running", "return", "Running"),
    ("on_crashed", "crash", "Crashed"),
    ("on_cancellation", "cancel", "Cancelling"),
]


def _flow_body(pf: Any, action: str) -> Any:
    if action == "raise":
        raise ValueError("boom")
    if action == "crash":
        return pf.State(type=pf.states.StateType.CRASHED)
    if action == "cancel":
        return pf.State(type=pf.states.StateType.CANCELLING)
    return 1


@pytest.mark.parametrize("kind, action, seen", FLOW_CASES)
def test_flow_hooks_given_as_a_list_run_in_order(
    pf: Any, kind: str, action: str, seen: str
) -> None:
    calls: list[Any] = []

    @pf.flow(**{kind: [_recorder(calls, "one"), _recorder(calls, "two")]})
    def my_flow() -> Any:
        return _flow_body(pf, action)

    my_flow(return_state=True)
    assert calls == [("one", seen), ("two", seen)]


@pytest.mark.parametrize("kind, action, seen", FLOW_CASES)
def test_flow_hooks_by_decorator(pf: Any, kind: str, action: str, seen: str) -> None:
    calls: list[Any] = []

    @pf.flow
    def my_flow() -> Any:
        return _flow_body(pf, action)

    first = getattr(my_flow, kind)(_recorder(calls, "one"))
    getattr(my_flow, kind)(_recorder(calls, "two"))
    my_flow(return_state=True)
    assert calls == [("one", seen), ("two", seen)]
    assert callable(first)  # the decorator gives the hook back


@pytest.mark.parametrize(
    "kind, action",
    [
        ("on_completion", "raise"),
        ("on_failure", "return"),
        ("on_crashed", "return"),
        ("on_crashed", "raise"),
        ("on_cancellation", "return"),
        ("on_cancellation", "raise"),
    ],
)
def test_flow_hooks_do_not_run_on_other_outcomes(pf: Any, kind: str, action: str) -> None:
    calls: list[Any] = []

    @pf.flow(**{kind: [_recorder(calls, "hook")]})
    def my_flow() -> Any:
        return _flow_body(pf, action)

    my_flow(return_state=True)
    assert calls == []


def test_flow_hooks_receive_flow_flow_run_and_state(pf: Any) -> None:
    seen: dict[str, Any] = {}

    def hook(flow: Any, flow_run: Any, state: Any) -> None:
        context = pf.context.get_run_context()
        seen.update(flow=flow, run_id=flow_run.id, state=state, context_run=context.flow_run.id)

    @pf.flow(on_completion=[hook])
    def my_flow() -> int:
        return 1

    state = my_flow(return_state=True)
    assert seen["flow"] is my_flow
    assert seen["state"].is_completed()
    assert seen["state"].name == state.name
    assert seen["run_id"] == seen["context_run"]  # hooks run inside the flow run's context


@pytest.mark.parametrize("make_first", [_recorder, _async_recorder])
@pytest.mark.parametrize("make_second", [_recorder, _async_recorder])
def test_sync_and_async_flow_hooks_are_all_run(pf: Any, make_first: Any, make_second: Any) -> None:
    calls: list[Any] = []

    @pf.flow(on_completion=[make_first(calls, "one"), make_second(calls, "two")])
    def my_flow() -> None:
        pass

    assert my_flow(return_state=True).is_completed()
    assert calls == [("one", "Completed"), ("two", "Completed")]


def test_async_hooks_are_awaited_for_async_flows(pf: Any) -> None:
    calls: list[Any] = []

    @pf.flow(on_completion=[_async_recorder(calls, "hook")])
    async def my_flow() -> int:
        return 1

    assert asyncio.run(my_flow()) == 1
    assert calls == [("hook", "Completed")]


@pytest.mark.parametrize("kind, action", [("on_completion", "return"), ("on_failure", "raise")])
def test_a_failing_flow_hook_changes_nothing(pf: Any, kind: str, action: str) -> None:
    calls: list[Any] = []

    def broken(flow: Any, flow_run: Any, state: Any) -> None:
        raise RuntimeError("the hook broke")

    @pf.flow(**{kind: [_recorder(calls, "one"), broken, _recorder(calls, "two")]})
    def my_flow() -> Any:
        return _flow_body(pf, action)

    state = my_flow(return_state=True)
    assert state.is_completed() if action == "return" else state.is_failed()
    assert [label for label, _ in calls] == ["one", "two"]


def test_flow_on_failure_runs_only_after_the_last_retry(pf: Any) -> None:
    calls: list[Any] = []
    attempts: list[int] = []

    @pf.flow(retries=2, on_failure=[_recorder(calls, "failed")])
    def my_flow() -> None:
        attempts.append(1)
        raise ValueError("boom")

    assert my_flow(return_state=True).is_failed()
    assert len(attempts) == 3
    assert calls == [("failed", "Failed")]


def test_hooks_may_take_extra_keyword_arguments(pf: Any) -> None:
    seen: dict[str, Any] = {}

    def hook(flow: Any, flow_run: Any, state: Any, extra: int = 1, **kwargs: Any) -> None:
        seen.update(extra=extra, kwargs=kwargs)

    @pf.flow(on_completion=[functools.partial(hook, extra=2, more=3)])
    def my_flow() -> None:
        pass

    my_flow()
    assert seen == {"extra": 2, "kwargs": {"more": 3}}


@pytest.mark.parametrize(
    "kind", ["on_completion", "on_failure", "on_crashed", "on_cancellation", "on_running"]
)
@pytest.mark.parametrize("hooks", ["not a list", ["not callable"]])
def test_flow_hooks_must_be_a_list_of_callables(pf: Any, kind: str, hooks: Any) -> None:
    def fn() -> None:
        pass

    value = fn if hooks == "not a list" else hooks
    with pytest.raises(TypeError, match=kind):
        pf.flow(**{kind: value})(fn)


# --- tasks ------------------------------------------------------------------------------

TASK_CASES = [
    ("on_completion", False, "Completed"),
    ("on_failure", True, "Failed"),
    ("on_running", False, "Running"),
]


@pytest.mark.parametrize("kind, fails, seen", TASK_CASES)
def test_task_hooks_given_as_a_list(pf: Any, kind: str, fails: bool, seen: str) -> None:
    calls: list[Any] = []

    @pf.task(**{kind: [_recorder(calls, "one"), _recorder(calls, "two")]})
    def my_task() -> int:
        if fails:
            raise ValueError("boom")
        return 1

    @pf.flow
    def my_flow() -> None:
        my_task(return_state=True)

    my_flow()
    assert calls == [("one", seen), ("two", seen)]


@pytest.mark.parametrize("kind, fails, seen", TASK_CASES)
def test_task_hooks_by_decorator(pf: Any, kind: str, fails: bool, seen: str) -> None:
    calls: list[Any] = []

    @pf.task
    def my_task() -> int:
        if fails:
            raise ValueError("boom")
        return 1

    @getattr(my_task, kind)
    def hook(task: Any, task_run: Any, state: Any) -> None:
        calls.append(("decorated", state.name))

    @pf.flow
    def my_flow() -> None:
        my_task.submit(return_state=True)

    my_flow()
    assert calls == [("decorated", seen)]
    assert callable(hook)


def test_task_hooks_receive_task_task_run_and_state(pf: Any) -> None:
    seen: dict[str, Any] = {}

    @pf.task
    def my_task() -> int:
        seen["inside"] = pf.context.get_run_context().task_run.id
        return 1

    @my_task.on_completion
    def hook(task: Any, task_run: Any, state: Any) -> None:
        seen.update(task=task, run_id=task_run.id, name=task_run.name, state=state.name)

    @pf.flow
    def my_flow() -> None:
        my_task()

    my_flow()
    assert seen["task"] is my_task
    assert seen["run_id"] == seen["inside"]
    assert seen["name"].startswith("my_task")
    assert seen["state"] == "Completed"


def test_async_task_hooks_are_awaited(pf: Any) -> None:
    calls: list[Any] = []

    @pf.task(
        on_completion=[_async_recorder(calls, "async")], on_failure=[_async_recorder(calls, "x")]
    )
    def my_task() -> int:
        return 1

    @pf.flow
    def my_flow() -> int:
        return my_task()

    assert my_flow() == 1
    assert calls == [("async", "Completed")]


def test_a_failing_task_hook_changes_nothing(pf: Any) -> None:
    calls: list[Any] = []

    def broken(task: Any, task_run: Any, state: Any) -> None:
        raise RuntimeError("the hook broke")

    @pf.task(on_completion=[broken, _recorder(calls, "after")])
    def my_task() -> int:
        return 7

    @pf.flow
    def my_flow() -> Any:
        state = my_task(return_state=True)
        return state.is_completed(), state.result()

    assert my_flow() == (True, 7)
    assert calls == [("after", "Completed")]


def test_task_on_failure_runs_only_after_the_last_retry(pf: Any) -> None:
    calls: list[Any] = []

    def hook(task: Any, task_run: Any, state: Any) -> None:
        calls.append((task_run.run_count, state.name))

    @pf.task(retries=2, on_failure=[hook])
    def my_task() -> None:
        raise ValueError("boom")

    @pf.flow
    def my_flow() -> None:
        my_task(return_state=True)

    my_flow()
    assert calls == [(3, "Failed")]


def test_task_on_completion_runs_once_after_a_successful_retry(pf: Any) -> None:
    calls: list[Any] = []
    attempts: list[int] = []

    @pf.task(
        retries=1, on_completion=[_recorder(calls, "done")], on_failure=[_recorder(calls, "failed")]
    )
    def my_task() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt")
        return 1

    @pf.flow
    def my_flow() -> int:
        return my_task()

    assert my_flow() == 1
    assert calls == [("done", "Completed")]


@pytest.mark.parametrize("kind", ["on_completion", "on_failure", "on_running"])
def test_task_hooks_must_be_a_list_of_callables(pf: Any, kind: str) -> None:
    def fn() -> None:
        pass

    with pytest.raises(TypeError, match=kind):
        pf.task(**{kind: fn})(fn)
