"""State transitions both engines make: announcing a state, and the state an error or
a signal ends a run in."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kernel_ext import _states as states
from kernel_ext._errors import Abort, Suspend, TaskRunTimeout, Terminated
from kernel_ext._events import StateEvent, bus
from kernel_ext._tracebacks import format_failure

__all__ = ["ago", "failed_state", "interrupted_state", "set_state"]


def set_state(run: Any, state: states.State) -> None:
    """``run`` enters ``state``: recorded on the run and announced on the event bus."""
    state.run_id = run.id
    run.state = state
    bus.emit(StateEvent(run, state))


def failed_state(error: BaseException) -> states.State:
    """Failed (TimedOut for a timeout) with the error, its type and the user's traceback."""
    details = {
        "exception_type": type(error).__name__,
        "traceback": format_failure(error),
    }
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, TaskRunTimeout):
        return states.TimedOut(message, data=error, details=details)
    return states.Failed(message, data=error, details=details)


def interrupted_state(signal: BaseException) -> states.State:
    """The state a run stopped by ``signal`` ends in."""
    message = f"{type(signal).__name__}: {signal}".rstrip(": ")
    if isinstance(signal, Suspend):
        return states.Suspended(str(signal))
    if isinstance(signal, Abort):
        return states.Cancelled(str(signal) or "Aborted.")
    if isinstance(signal, Terminated):
        return states.Cancelled("Terminated by SIGTERM.")
    if isinstance(signal, (KeyboardInterrupt, asyncio.CancelledError)):
        return states.Cancelled(f"Interrupted ({message}).")
    return states.Crashed(f"Stopped by {message}.", data=signal)


def ago(created: float) -> str:
    seconds = max(0.0, time.time() - created)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
