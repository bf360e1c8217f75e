"""``prefect.flow_runs``: pausing a flow run for input.

Taskbook's ``pause_flow_run`` suspends a deployment run by itself (its kernel stops until
the answer comes), so it also stands where Prefect code calls ``suspend_flow_run``.
"""

from __future__ import annotations

from kernel_ext._pause import pause_flow_run
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["pause_flow_run"]

_ANSWER = "answer the paused run with kernel_ext.approvals.answer(run_id, value)"
_PAUSE = "call pause_flow_run(); in a deployment run it suspends the run by itself"
# Resolved from kernel_ext._pause once Taskbook has them; ``prefect`` offers them too.
TARGETS = {
    name: f"kernel_ext._pause:{name}"
    for name in (
        "apause_flow_run",
        "aresume_flow_run",
        "asuspend_flow_run",
        "resume_flow_run",
        "suspend_flow_run",
    )
}
INSTEAD = {
    "resume_flow_run": _ANSWER,
    "aresume_flow_run": _ANSWER,
    "suspend_flow_run": _PAUSE,
    "asuspend_flow_run": _PAUSE,
    "apause_flow_run": "call pause_flow_run()",
}
__getattr__ = lazy_attributes(
    __name__,
    TARGETS,
    {
        **INSTEAD,
        "wait_for_flow_run": "read the run with kernel_ext.store.get_store().read_flow_run(id)",
    },
)
