"""Prefect's sync/async dispatch, for calls that Prefect 3 wraps in ``async_dispatch``.

In Prefect, ``Variable.get(...)`` (``Secret.load``, ``.save``, ...) returns the value in
sync code and a coroutine in async code, so ``await Variable.get("x")`` works in an
``async def`` flow; ``_sync=True`` forces the value, ``_sync=False`` the coroutine, and
the ``a``-prefixed twin (``Variable.aget``) is always a coroutine.

Taskbook decides "async code" as ``State.result()`` does: inside an ``async def`` flow
or task run. Outside runs only where a loop runs and it is not a notebook's kernel: a
notebook's cells run inside a loop, and there ``Secret.load("x")`` must stay a value
(in Prefect it would be a coroutine left unawaited).
"""

from __future__ import annotations

__all__ = ["runs_async"]


def runs_async(sync: bool | None) -> bool:
    """Whether a dispatching call returns its coroutine; ``sync`` is the ``_sync`` argument."""
    if sync is not None:
        return not sync
    from kernel_ext._states import _in_async_run

    return _in_async_run()
