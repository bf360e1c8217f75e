"""``prefect.flows``: Taskbook's ``Flow`` and ``flow``."""

from __future__ import annotations

from kernel_ext._flows import Flow, flow
from kernel_ext.compat._lazy import lazy_attributes

__all__ = ["Flow", "flow"]

_DEPLOY = (
    "promote the notebook with `taskbook deploy <notebook> --name <name>` and start "
    "`taskbook worker`"
)
__getattr__ = lazy_attributes(
    __name__,
    {},
    {
        "serve": _DEPLOY,
        "aserve": _DEPLOY,
        "load_flow_from_entrypoint": "import the flow's module and use the Flow object",
    },
)
