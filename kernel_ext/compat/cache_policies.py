"""``prefect.cache_policies``: Taskbook's cache policies, under Prefect's names."""

from __future__ import annotations

from kernel_ext.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NONE,
    RUN_ID,
    TASK_SOURCE,
    CachePolicy,
    Inputs,
)
from kernel_ext.cache_policies import CompoundPolicy as CompoundCachePolicy
from kernel_ext.compat._lazy import lazy_attributes

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NONE",
    "NO_CACHE",
    "RUN_ID",
    "TASK_SOURCE",
    "CachePolicy",
    "CompoundCachePolicy",
    "Inputs",
]

NO_CACHE = NONE

__getattr__ = lazy_attributes(__name__, {}, {
    "CacheKeyFnPolicy": "pass cache_key_fn=... to @task",
    "TaskSource": "use the TASK_SOURCE policy",
    "FlowParameters": "use the FLOW_PARAMETERS policy",
    "RunId": "use the RUN_ID policy",
})  # fmt: skip
