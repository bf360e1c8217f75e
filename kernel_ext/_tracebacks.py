"""Tracebacks that show the user's frames, not the engine's.

A failure inside a flow or task passes through a dozen frames of the engine on its way
to the caller; they say nothing about the user's bug and bury it. When an error leaves
``Flow.__call__`` or ``Task.__call__``, its traceback is rebuilt without the frames of
this package (the cell of a ``%%task`` is trimmed the same way), and the one frame left,
the call itself, is marked ``__tracebackhide__`` so that IPython hides it too.
``TASKBOOK_FULL_TRACEBACKS=1`` keeps every frame, for debugging Taskbook itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

__all__ = ["user_traceback", "without_engine_frames"]

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep
_FULL_ENV = "TASKBOOK_FULL_TRACEBACKS"


def _is_engine(tb: TracebackType) -> bool:
    return tb.tb_frame.f_code.co_filename.startswith(_PACKAGE)


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
    if not os.environ.get(_FULL_ENV):
        error.with_traceback(user_traceback(error.__traceback__))
    return error
