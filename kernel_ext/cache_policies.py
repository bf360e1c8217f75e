"""Cache policies: how a task run's cache key is made, with Prefect's names.

    INPUTS          the task's arguments
    TASK_SOURCE     the task function's source code
    FLOW_PARAMETERS the parameters of the enclosing flow run
    RUN_ID          the enclosing flow run's id (caching within one run only)
    NONE            no caching
    DEFAULT         INPUTS + TASK_SOURCE + RUN_ID, as in Prefect

Combine with ``+``: ``cache_policy=INPUTS + TASK_SOURCE`` caches across runs and days
until the code or an input changes. ``INPUTS - "seed"`` ignores an argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel_ext._errors import CacheKeyError
from kernel_ext._hashing import UnhashableValue, hash_text, hash_value

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NONE",
    "RUN_ID",
    "TASK_SOURCE",
    "CacheContext",
    "CachePolicy",
]


@dataclass(slots=True)
class CacheContext:
    """What a policy may look at."""

    task_name: str
    fn: Callable[..., Any]
    inputs: dict[str, Any]
    flow_run_id: str | None
    flow_parameters: dict[str, Any]


class CachePolicy:
    """Makes a cache key from a ``CacheContext``; ``None`` means do not cache."""

    def compute_key(self, context: CacheContext) -> str | None:
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return CompoundPolicy((*_parts(self), *_parts(other)))


def _parts(policy: CachePolicy) -> tuple[CachePolicy, ...]:
    return policy.policies if isinstance(policy, CompoundPolicy) else (policy,)


@dataclass(frozen=True)
class CompoundPolicy(CachePolicy):
    policies: tuple[CachePolicy, ...]

    def compute_key(self, context: CacheContext) -> str | None:
        keys = [policy.compute_key(context) for policy in self.policies]
        if any(key is None for key in keys):
            return None
        return hash_text("|".join(k for k in keys if k is not None))

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.policies)


@dataclass(frozen=True)
class Inputs(CachePolicy):
    exclude: frozenset[str] = field(default_factory=frozenset)

    def compute_key(self, context: CacheContext) -> str | None:
        parts = []
        for name, value in sorted(context.inputs.items()):
            if name in self.exclude:
                continue
            parts.append(f"{name}={hash_input(context.task_name, name, value)}")
        return hash_text(",".join(parts))

    def __sub__(self, name: str) -> Inputs:
        return Inputs(self.exclude | {name})

    def __repr__(self) -> str:
        return "INPUTS" + "".join(f" - {name!r}" for name in sorted(self.exclude))


def hash_input(task_name: str, name: str, value: Any) -> str:
    try:
        return hash_value(value)
    except UnhashableValue as error:
        raise CacheKeyError(
            f"The input {name!r} of task {task_name!r} ({type(value).__name__}) cannot be "
            f"hashed for the cache key ({error}). Pass cache_key_fn=... to compute the key "
            f"yourself, or exclude it with cache_policy=INPUTS - {name!r}."
        ) from error


class _TaskSource(CachePolicy):
    def compute_key(self, context: CacheContext) -> str | None:
        return source_hash(context.fn)

    def __repr__(self) -> str:
        return "TASK_SOURCE"


def source_hash(fn: Callable[..., Any]) -> str:
    cached: str | None = getattr(fn, "__taskbook_source_hash__", None)
    if cached is not None:
        return cached
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = repr((code.co_code, code.co_consts)) if code else repr(fn)
    key = hash_text(text)
    try:
        fn.__taskbook_source_hash__ = key  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return key


class _FlowParameters(CachePolicy):
    def compute_key(self, context: CacheContext) -> str | None:
        items = sorted(context.flow_parameters.items())
        return hash_text(",".join(f"{k}={hash_input('flow', k, v)}" for k, v in items))

    def __repr__(self) -> str:
        return "FLOW_PARAMETERS"


class _RunId(CachePolicy):
    def compute_key(self, context: CacheContext) -> str | None:
        return context.flow_run_id or ""

    def __repr__(self) -> str:
        return "RUN_ID"


class _NoCache(CachePolicy):
    def compute_key(self, context: CacheContext) -> str | None:
        return None

    def __repr__(self) -> str:
        return "NONE"


INPUTS = Inputs()
TASK_SOURCE = _TaskSource()
FLOW_PARAMETERS = _FlowParameters()
RUN_ID = _RunId()
NONE = _NoCache()
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
