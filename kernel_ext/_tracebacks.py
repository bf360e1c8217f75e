"""Tracebacks that show the user's frames, not the engine's.

A failure inside a flow or task passes through a dozen frames of the engine on its way
to the caller; they say nothing about the user's bug and bury it. When an error leaves
``Flow.__call__`` or ``Task.__call__``, its traceback is rebuilt without the frames of
this package and re-raised with a bare ``raise`` (which adds no frame), so it goes from
the caller's line straight to the user's code; the traceback stored with a failed run is
trimmed the same way (the cell of a ``%%task`` too). ``TASKBOOK_FULL_TRACEBACKS=1`` keeps
every frame, for debugging Taskbook itself.
"""

from __future__ import annotations

import os
from types import TracebackType

__all__ = ["format_failure", "full_tracebacks", "user_traceback", "without_engine_frames"]

_FULL_ENV = "TASKBOOK_FULL_TRACEBACKS"


def _is_engine(tb: TracebackType) -> bool:
    # By module, not by path: a symlinked or bind-mounted install has other paths.
    module = tb.tb_frame.f_globals.get("__name__")
    return isinstance(module, str) and (module == "kernel_ext" or module.startswith("kernel_ext."))


def full_tracebacks() -> bool:
    return os.environ.get(_FULL_ENV, "") not in ("", "0")


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without the frames of the engine (``tb`` itself if every frame is one)."""
    kept = []
    current = tb
    while current is not None:
        if not _is_engine(current):
            kept.append(current)
        current = current.tb_next
    if not kept:
        return tb
    rebuilt: TracebackType | None = None
    for frame in reversed(kept):
        rebuilt = TracebackType(rebuilt, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return rebuilt


def without_engine_frames(error: BaseException) -> BaseException:
    """``error`` with its traceback trimmed (unless TASKBOOK_FULL_TRACEBACKS is set)."""
    if not full_tracebacks():
        error.with_traceback(user_traceback(error.__traceback__))
    return error


def format_failure(error: BaseException) -> str:
    """The traceback text stored with a failed run: the user's frames only."""
    import traceback

    tb = error.__traceback__ if full_tracebacks() else user_traceback(error.__traceback__)
    return "".join(traceback.format_exception(type(error), error, tb))
