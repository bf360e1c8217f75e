"""Timeouts for plain (``def``) task and flow bodies.

Python cannot stop a thread from outside, so a timed-out body keeps its thread: the
caller stops waiting at once (the run is TimedOut and may be retried) and a
``TaskRunTimeout`` is raised asynchronously inside the abandoned thread so that it ends at
its next bytecode instead of running on (a body blocked in C code ends when the call
returns).
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any

from kernel_ext._errors import TaskRunTimeout

__all__ = ["call_with_timeout"]


def call_with_timeout(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], seconds: float | None
) -> Any:
    if seconds is None:
        return fn(*args, **kwargs)
    outcome: list[Any] = []
    context = contextvars.copy_context()

    def body() -> None:
        try:
            outcome.append((True, context.run(fn, *args, **kwargs)))
        except BaseException as error:
            outcome.append((False, error))

    worker = threading.Thread(target=body, name="taskbook-timeout", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        _raise_in(worker)
        raise TaskRunTimeout(f"The run exceeded its timeout of {seconds:g} s.")
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def _raise_in(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(TaskRunTimeout)
        )
