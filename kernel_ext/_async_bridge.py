"""Crossing between sync and async code, where the engine and transactions must.

``run_coroutine_sync`` runs a coroutine (an ``async def`` hook) to its end from sync
code: on the loop of an ``off_loop`` caller when there is one, else with ``asyncio.run``,
in a thread of its own when this thread already runs a loop (a notebook cell).
``off_loop`` runs blocking work (a lock wait, a store read) in a thread of its own, with
the caller's context, so the event loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["off_loop", "run_coroutine_sync"]

_T = TypeVar("_T")

# The loop of the ``off_loop`` caller: a coroutine met in the blocking work runs there.
_caller_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "taskbook_caller_loop", default=None
)


def run_coroutine_sync(awaitable: Awaitable[_T]) -> _T:
    async def main() -> _T:
        return await awaitable

    if asyncio._get_running_loop() is not None:  # this thread runs a loop: not on it
        return _in_thread(lambda: asyncio.run(main()))
    loop = _caller_loop.get()
    if loop is not None and not loop.is_closed():  # off_loop work: on its caller's loop
        return asyncio.run_coroutine_threadsafe(main(), loop).result()
    return asyncio.run(main())


def _in_thread(fn: Callable[[], _T]) -> _T:
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as error:  # handed to the caller, who re-raises it
            box.append((False, error))

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
    thread.start()
    thread.join()
    ok, result = box[0]
    if not ok:
        raise result
    return result  # type: ignore[no-any-return]


async def off_loop(fn: Callable[[], _T]) -> _T:
    """Run blocking work in its own thread (not the loop's shared executor, whose few
    threads could all be waiting on locks that the work they wait for would release),
    with the caller's context and loop for coroutines it meets."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_T] = loop.create_future()
    context = contextvars.copy_context()
    context.run(_caller_loop.set, loop)

    def settle(ok: bool, result: Any) -> None:
        if done.done():  # the awaiting task was cancelled
            return
        if ok:
            done.set_result(result)
        else:
            done.set_exception(result)

    def run() -> None:
        try:
            outcome: tuple[bool, Any] = (True, context.run(fn))
        except BaseException as error:  # handed to the awaiting task
            outcome = (False, error)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, daemon=True, name="taskbook-off-loop").start()
    return await done
