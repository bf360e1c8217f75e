"""``prefect.input``: ``RunInput``, the form of a paused run (loads pydantic on use)."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes

_LAZY = {"RunInput": "kernel_ext._run_input:RunInput"}  # pydantic loads on first use
__all__ = list(_LAZY)

__getattr__ = lazy_attributes(
    __name__,
    _LAZY,
    {
        "receive_input": "pause_flow_run(wait_for_input=...) returns the answer",
        "send_input": "answer with kernel_ext.approvals.answer(run_id, value)",
    },
)
