"""Generator tasks and flows: items stream to the caller, whose own code between items
runs outside the run (its context is not held while an item is with the caller)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from kernel_ext import flow, task
from kernel_ext._context import flow_run_context, task_run_context


def test_a_streamed_task_does_not_hold_its_context_between_items(home: Any) -> None:
    @task
    def numbers() -> Iterator[int]:
        for i in range(3):
            assert task_run_context.get() is not None  # the body runs inside the run
            yield i

    @flow
    def consume() -> list[bool]:
        return [task_run_context.get() is None for _ in numbers()]

    assert consume() == [True, True, True]


def test_a_streamed_flow_does_not_hold_its_context_between_items(home: Any) -> None:
    @flow
    def numbers() -> Iterator[int]:
        for i in range(3):
            assert flow_run_context.get() is not None
            yield i

    assert [flow_run_context.get() is None for _ in numbers()] == [True, True, True]


def test_an_async_stream_stopped_early_ends_completed_and_leaves_no_context(
    home: Any, store: Any
) -> None:
    @task
    async def numbers() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    @flow
    async def consume() -> tuple[list[int], bool]:
        taken = []
        async for x in numbers():
            taken.append(x)
            if x == 1:
                break
        return taken, task_run_context.get() is None

    assert asyncio.run(consume()) == ([0, 1], True)
    assert flow_run_context.get() is None
    store.flush()
    (run,) = store.list_flow_runs(limit=1)
    (task_run,) = store.read_flow_run(run["id"])["task_runs"]
    assert task_run["state"] == "Completed"
