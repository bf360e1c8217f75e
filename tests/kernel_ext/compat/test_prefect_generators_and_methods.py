"""Generator runs, runs on methods, and Prefect's exception names (tests/test_tasks.py
``TestTaskGenerators``-style checks, docs/v3/how-to-guides/workflows/write-and-run.mdx and
src/prefect/exceptions.py, in our words)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

# --- generators -------------------------------------------------------------------------


def test_calling_a_generator_task_returns_a_generator(pf: Any) -> None:
    @pf.task
    def numbers(n: int) -> Any:
        yield from range(n)

    @pf.flow
    def my_flow() -> Any:
        produced = numbers(3)
        return inspect.isgenerator(produced), list(produced)

    assert my_flow() == (True, [0, 1, 2])


def test_a_generator_task_streams_its_values(pf: Any) -> None:
    produced: list[int] = []

    @pf.task
    def numbers() -> Any:
        for i in range(3):
            produced.append(i)
            yield i

    @pf.flow
    def my_flow() -> Any:
        seen = []
        for value in numbers():
            seen.append((value, list(produced)))  # what the task had made by then
        return seen

    assert my_flow() == [(0, [0]), (1, [0, 1]), (2, [0, 1, 2])]


def test_retries_apply_to_generator_tasks(pf: Any) -> None:
    attempts: list[int] = []

    @pf.task(retries=1)
    def flaky() -> Any:
        attempts.append(1)
        yield 1
        if len(attempts) == 1:
            raise ValueError("first attempt")
        yield 2

    @pf.flow
    def my_flow() -> list[int]:
        return list(flaky())

    # The values of the failed attempt were already handed over: the caller sees them.
    assert my_flow() == [1, 1, 2]
    assert len(attempts) == 2


def test_an_async_generator_task_streams_in_an_async_flow(pf: Any) -> None:
    @pf.task
    async def numbers(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    @pf.flow
    async def my_flow() -> list[int]:
        return [value async for value in numbers(3)]

    assert asyncio.run(my_flow()) == [0, 1, 2]


def test_calling_a_generator_flow_returns_a_generator(pf: Any) -> None:
    @pf.flow
    def my_flow() -> Any:
        yield "a"
        yield "b"

    produced = my_flow()
    assert inspect.isgenerator(produced)
    assert list(produced) == ["a", "b"]


# --- methods ----------------------------------------------------------------------------


def _worker_class(pf: Any) -> type:
    class Worker:
        def __init__(self, base: int) -> None:
            self.base = base

        @pf.task
        def add(self, x: int) -> int:
            return self.base + x

        @pf.flow
        def run(self, x: int) -> int:
            return self.add(x)

        @pf.task
        @classmethod
        def kind(cls, x: int) -> tuple[str, int]:
            return cls.__name__, x

        @pf.task
        @staticmethod
        def double(x: int) -> int:
            return 2 * x

        @pf.flow
        @classmethod
        def class_flow(cls) -> str:
            return cls.__name__

        @pf.flow
        @staticmethod
        def static_flow(x: int) -> int:
            return x + 1

        @classmethod
        @pf.task
        def kind_other_order(cls, x: int) -> tuple[str, int]:
            return cls.__name__, x

        @staticmethod
        @pf.task
        def double_other_order(x: int) -> int:
            return 2 * x

    return Worker


def test_flows_on_instance_class_and_static_methods(pf: Any) -> None:
    worker_class = _worker_class(pf)
    worker = worker_class(10)
    assert worker.run(1) == 11
    assert worker_class.class_flow() == "Worker"
    assert worker.class_flow() == "Worker"
    assert worker_class.static_flow(1) == 2


def test_tasks_on_instance_class_and_static_methods(pf: Any) -> None:
    worker_class = _worker_class(pf)
    worker = worker_class(10)

    @pf.flow
    def my_flow() -> Any:
        return (
            worker.add(2),
            worker_class.kind(3),
            worker.kind(4),
            worker_class.double(5),
        )

    # Not ``worker.double(6)``: Prefect 3 then passes the instance as ``x`` and raises
    # ParameterBindError ("too many positional arguments").
    assert my_flow() == (12, ("Worker", 3), ("Worker", 4), 10)


def test_method_tasks_can_be_submitted(pf: Any) -> None:
    worker_class = _worker_class(pf)
    worker = worker_class(10)

    @pf.flow
    def my_flow() -> Any:
        return worker.add.submit(1).result(), worker_class.double.submit(2).result()

    assert my_flow() == (11, 4)


def test_the_decorator_may_also_go_under_classmethod_and_staticmethod(pf: Any) -> None:
    worker_class = _worker_class(pf)

    @pf.flow
    def my_flow() -> Any:
        return worker_class.kind_other_order(1), worker_class.double_other_order(2)

    assert my_flow() == (("Worker", 1), 4)


# --- exceptions -------------------------------------------------------------------------

EXCEPTIONS = [
    # name, a builtin it also is (or None)
    ("PrefectException", Exception),
    ("PausedRun", None),
    ("FailedRun", None),
    ("CrashedRun", None),
    ("CancelledRun", None),
    ("UnfinishedRun", None),
    ("InvalidNameError", ValueError),
    ("ReservedArgumentError", TypeError),
    ("MissingContextError", RuntimeError),
    ("ParameterTypeError", None),
    ("ParameterBindError", TypeError),
    ("SignatureMismatchError", TypeError),
]


@pytest.mark.parametrize("name, builtin", EXCEPTIONS)
def test_exceptions_are_importable_the_prefect_way(pf: Any, name: str, builtin: Any) -> None:
    error = getattr(pf.exceptions, name)
    assert issubclass(error, pf.exceptions.PrefectException)
    if builtin is not None:
        assert issubclass(error, builtin)


@pytest.mark.parametrize("decorator", ["flow", "task"])
@pytest.mark.parametrize("argument", ["return_state", "wait_for"])
def test_reserved_argument_names_are_refused(pf: Any, decorator: str, argument: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def fn({argument}): pass", namespace)
    with pytest.raises(pf.exceptions.ReservedArgumentError, match=argument):
        getattr(pf, decorator)(namespace["fn"])
