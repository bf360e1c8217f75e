"""One lifecycle, two drivers: how a run's ladder is written once for sync and async code.

A run's lifecycle (inputs, cache, attempts, retries, hooks, outcome) is a generator that
yields *steps*: things that block (call the body, sleep before a retry, take a slot, run
a hook). A driver performs each step and sends back its value, or throws its exception
in at the ``yield``. ``drive_sync`` performs steps in the calling thread, ``drive_async``
awaits them on the running loop; the ``stream`` drivers do the same for generator
bodies and pass each item the body yields on to the caller. So the attempt/retry/timeout
ladder exists once, and a plain task and an ``async def`` task cannot drift apart.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

from kernel_ext._async_bridge import run_coroutine_sync
from kernel_ext._errors import TaskRunTimeout
from kernel_ext._timeouts import call_with_timeout

__all__ = [
    "Call",
    "Hook",
    "Lifecycle",
    "Sleep",
    "Step",
    "Stream",
    "drive_async",
    "drive_stream_async",
    "drive_stream_sync",
    "drive_sync",
    "stream",
    "stream_async",
]


class Step:
    """Something a lifecycle waits for; a driver performs it."""

    def run_sync(self) -> Any:
        raise NotImplementedError

    async def run_async(self) -> Any:
        return self.run_sync()


Lifecycle = Generator[Step, Any, Any]


class Call(Step):
    """Call a run's body once, with its timeout."""

    __slots__ = ("args", "fn", "kwargs", "timeout")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> None:
        self.fn, self.args, self.kwargs, self.timeout = fn, args, kwargs, timeout

    def run_sync(self) -> Any:
        if self.timeout is None:
            return self.fn(*self.args, **self.kwargs)
        return call_with_timeout(self.fn, self.args, self.kwargs, self.timeout)

    async def run_async(self) -> Any:
        call = self.fn(*self.args, **self.kwargs)
        if not inspect.isawaitable(call):  # a plain body in an async run
            return call
        if self.timeout is None:
            return await call
        return await _with_timeout(call, self.timeout)


class Stream(Call):
    """Run a generator body: the stream drivers pass each item on to the caller (each
    ``next()`` bounded by what is left of the timeout); the other drivers drop them."""

    __slots__ = ("around", "on_item")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
        on_item: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(fn, args, kwargs, timeout)
        self.on_item = on_item
        # (leave, come back): while an item is with the caller, the caller's code runs
        # outside the run's context (a streamed run must not leak it between items).
        self.around: tuple[Callable[[], None], Callable[[], None]] | None = None

    def run_sync(self) -> Any:
        items = self.items_sync()
        while True:
            try:
                next(items)
            except StopIteration as stop:
                return stop.value

    async def run_async(self) -> Any:
        async for _ in self.items_async():
            pass

    def items_sync(self) -> Generator[Any, None, Any]:
        """The body's items; the generator's return value is this one's."""
        generator = self.fn(*self.args, **self.kwargs)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = call_with_timeout(next, (generator,), {}, left)
            except StopIteration as stop:
                return stop.value
            if self.on_item is not None:
                self.on_item(item)
            self._leave()
            try:
                yield item
            except GeneratorExit:  # the caller stopped early: close the body too
                self._back()
                generator.close()
                raise
            except BaseException:  # thrown in by the caller: back in the run first
                self._back()
                raise
            self._back()

    async def items_async(self) -> AsyncIterator[Any]:
        generator = self.fn(*self.args, **self.kwargs)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                if deadline is None:
                    item = await generator.__anext__()
                else:
                    left = max(0.0, deadline - time.monotonic())
                    item = await _with_timeout(generator.__anext__(), left, self.timeout)
            except StopAsyncIteration:
                return
            if self.on_item is not None:
                self.on_item(item)
            self._leave()
            try:
                yield item
            except GeneratorExit:  # the caller stopped early: close the body too
                self._back()
                await generator.aclose()
                raise
            except BaseException:  # thrown in by the caller: back in the run first
                self._back()
                raise
            self._back()

    def _leave(self) -> None:
        if self.around is not None:
            self.around[0]()

    def _back(self) -> None:
        if self.around is not None:
            self.around[1]()


class Sleep(Step):
    """Wait before the next attempt."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run_sync(self) -> None:
        time.sleep(self.seconds)

    async def run_async(self) -> None:
        await asyncio.sleep(self.seconds)


class Hook(Step):
    """Run one state hook: an ``async def`` hook is awaited (in sync code, on a loop of
    its own). A hook that raises is logged and does not change the run's state."""

    __slots__ = ("args", "fn", "owner")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], owner: str) -> None:
        self.fn, self.args, self.owner = fn, args, owner

    def run_sync(self) -> None:
        try:
            outcome = self.fn(*self.args)
            if inspect.isawaitable(outcome):
                run_coroutine_sync(outcome)
        except Exception:
            self._log()

    async def run_async(self) -> None:
        try:
            outcome = self.fn(*self.args)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            self._log()

    def _log(self) -> None:
        from kernel_ext._logging import engine_logger

        name = getattr(self.fn, "__name__", repr(self.fn))
        engine_logger().exception("Hook %r of %s failed", name, self.owner)


class Blocking(Step):
    """A sync call that an async driver runs as it is, and its async twin (slots)."""

    __slots__ = ("async_fn", "fn")

    def __init__(self, fn: Callable[[], Any], async_fn: Callable[[], Any] | None = None):
        self.fn, self.async_fn = fn, async_fn

    def run_sync(self) -> Any:
        return self.fn()

    async def run_async(self) -> Any:
        if self.async_fn is None:
            return self.fn()
        return await self.async_fn()


async def _with_timeout(call: Any, seconds: float, limit: float | None = None) -> Any:
    try:
        return await asyncio.wait_for(call, seconds)
    except TimeoutError as error:
        raise TaskRunTimeout(f"The run exceeded its timeout of {limit or seconds:g} s.") from error


def drive_sync(steps: Lifecycle) -> None:
    """Perform a lifecycle's steps in this thread, each step's value (or exception) sent
    back in (a streamed body runs to its end, its items dropped). ``drive_stream_sync``
    but not a generator itself: the path every plain task run takes."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        value = error = None
        try:
            value = step.run_sync()
        except BaseException as raised:  # handed to the lifecycle, which decides
            error = raised


async def drive_async(steps: Lifecycle) -> None:
    """``drive_sync`` on the running loop: each step awaited."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        value = error = None
        try:
            value = await step.run_async()
        except BaseException as raised:
            error = raised


def drive_stream_sync(steps: Lifecycle) -> Iterator[Any]:
    """Perform a lifecycle's steps in this thread, each step's value (or exception) sent
    back in; a generator body's items are yielded to the caller as they come."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            if isinstance(step, Stream):
                value = yield from step.items_sync()
            else:
                value = step.run_sync()
        except GeneratorExit:  # the caller stopped early: the body ends, Completed
            value = None
        except BaseException as raised:
            error = raised


async def drive_stream_async(steps: Lifecycle) -> AsyncIterator[Any]:
    """``drive_stream_sync`` on the running loop, for async bodies."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        value = error = None
        try:
            if isinstance(step, Stream):
                items = step.items_async()
                try:
                    async for item in items:
                        yield item
                except GeneratorExit:  # the caller stopped early: Completed
                    await items.aclose()  # type: ignore[attr-defined]
                value = None
            else:
                value = await step.run_async()
        except BaseException as raised:
            error = raised


def stream(steps: Lifecycle, finish: Callable[[], Any]) -> Iterator[Any]:
    """A streamed run for its caller: the body's items, then ``finish()`` (which raises
    the run's failure)."""
    yield from drive_stream_sync(steps)
    finish()


async def stream_async(steps: Lifecycle, finish: Callable[[], Any]) -> AsyncIterator[Any]:
    inner = drive_stream_async(steps)
    try:  # closed here, in the caller's context, also when the caller stops early
        async for item in inner:
            yield item
    finally:
        await inner.aclose()  # type: ignore[attr-defined]
    finish()
