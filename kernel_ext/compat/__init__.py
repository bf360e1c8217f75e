"""Prefect's module paths over Taskbook's objects: ``prefect.X`` is ``kernel_ext.compat.X``.

Code written for Prefect 3 runs after changing the imports:

    from prefect import flow, task, tags              # before
    from kernel_ext.compat import flow, task, tags    # after
    from kernel_ext.compat.states import Completed    # prefect.states
    from kernel_ext.compat.runtime import flow_run    # prefect.runtime

Mirrored: ``prefect``, ``.flows``, ``.tasks``, ``.states``, ``.futures``,
``.task_runners``, ``.cache_policies``, ``.transactions``, ``.runtime``, ``.context``,
``.flow_runs``, ``.input``, ``.logging``, ``.exceptions``, ``.utilities.annotations``,
``.blocks.system`` (``Secret``), ``.variables`` (``Variable``).
A Prefect name Taskbook does not offer raises an ``AttributeError`` (for ``from ...
import``, an ``ImportError``) that says what to use instead.

For a code base with many ``import prefect...`` lines, one call at its entry point does
it, without editing the imports::

    import kernel_ext.compat
    kernel_ext.compat.install_as_prefect()
    from prefect.states import Completed              # Taskbook's Completed

``install_as_prefect()`` adds an import hook that makes ``prefect`` and ``prefect.X`` the
``kernel_ext.compat`` modules (the same objects, not copies). It refuses, with a
``ConfigurationError``, where a real Prefect is installed: which of the two a module
got would then depend on import order.

Importing this package stays as light as ``import kernel_ext``: ``RunInput`` (pydantic)
and the transactions load on first use.
"""

from __future__ import annotations

from kernel_ext._annotations import allow_failure, unmapped
from kernel_ext._flows import Flow, flow
from kernel_ext._logging import get_run_logger
from kernel_ext._pause import pause_flow_run
from kernel_ext._states import State
from kernel_ext._tags import tags
from kernel_ext._tasks import Task, task
from kernel_ext.compat import flow_runs as _flow_runs
from kernel_ext.compat import runtime
from kernel_ext.compat._hook import install_as_prefect
from kernel_ext.compat._lazy import lazy_attributes

__all__ = [
    "Flow",
    "State",
    "Task",
    "allow_failure",
    "flow",
    "get_run_logger",
    "install_as_prefect",
    "pause_flow_run",
    "runtime",
    "tags",
    "task",
    "unmapped",
]

_DEPLOY = (
    "promote the notebook with `taskbook deploy <notebook> --name <name>` and start "
    "`taskbook worker`"
)
# The pause functions are the same objects as in prefect.flow_runs, as in Prefect.
__getattr__ = lazy_attributes(
    __name__,
    {**_flow_runs.TARGETS, "Transaction": "kernel_ext.transactions:Transaction"},
    {
        **_flow_runs.INSTEAD,
        "serve": _DEPLOY,
        "aserve": _DEPLOY,
        "deploy": _DEPLOY,
        "get_client": "read runs with kernel_ext.store.get_store() (read_flow_run, list_flow_runs)",
    },
)
