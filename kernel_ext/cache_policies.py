"""Cache policies: how a task run's cache key is made, with Prefect 3's objects and rules.

    INPUTS          the task's arguments (None when it has none)
    TASK_SOURCE     the task function's source code
    FLOW_PARAMETERS the parameters of the enclosing flow run (None when it has none)
    RUN_ID          the enclosing flow run's id, else the task run's (caching within a run)
    NONE, NO_CACHE  no caching
    DEFAULT         INPUTS + TASK_SOURCE + RUN_ID: what a task that persists its result
                    uses when it names no policy, as in Prefect

Combine with ``+`` (``INPUTS + TASK_SOURCE`` caches across runs until the code or an
input changes; ``NONE + X`` is ``X``); ``INPUTS - "seed"`` and ``DEFAULT - "seed"`` ignore
an argument. A policy of your own subclasses ``CachePolicy`` and implements
``compute_key(task_ctx, inputs, flow_parameters, **kwargs)``; returning None means "do
not cache this run". ``.configure(key_storage=..., isolation_level=..., lock_manager=...)``
returns a copy with those set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from kernel_ext._errors import CacheKeyError
from kernel_ext._hashing import UnhashableValue, hash_text, hash_value

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NONE",
    "NO_CACHE",
    "RUN_ID",
    "TASK_SOURCE",
    "CacheKeyFnPolicy",
    "CachePolicy",
    "CompoundCachePolicy",
    "FlowParameters",
    "Inputs",
    "RunId",
    "TaskSource",
    "task_input_hash",
]


@dataclass
class CachePolicy:
    """Makes a cache key for a task run; ``None`` means do not cache it."""

    key_storage: Any = None
    isolation_level: Any = None
    lock_manager: Any = None

    @classmethod
    def from_cache_key_fn(cls, cache_key_fn: Callable[..., str | None]) -> CacheKeyFnPolicy:
        return CacheKeyFnPolicy(cache_key_fn=cache_key_fn)

    def configure(
        self, key_storage: Any = None, lock_manager: Any = None, isolation_level: Any = None
    ) -> CachePolicy:
        """A copy with the given key storage, lock manager or isolation level."""
        new = deepcopy(self)
        if key_storage is not None:
            new.key_storage = key_storage
        if lock_manager is not None:
            new.lock_manager = lock_manager
        if isolation_level is not None:
            new.isolation_level = isolation_level
        return new

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        raise NotImplementedError

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Only strings (argument names) can be subtracted from a policy.")
        return self

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if isinstance(other, _None):
            return self
        for name in ("key_storage", "isolation_level", "lock_manager"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError(f"Cannot add cache policies with different {name}.")
        return CompoundCachePolicy(
            policies=[self, other],
            key_storage=self.key_storage or other.key_storage,
            isolation_level=self.isolation_level or other.isolation_level,
            lock_manager=self.lock_manager or other.lock_manager,
        )


@dataclass
class CacheKeyFnPolicy(CachePolicy):
    """``cache_key_fn(task_run_context, inputs)`` makes the key."""

    cache_key_fn: Callable[..., str | None] | None = None

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return self.cache_key_fn(task_ctx, inputs) if self.cache_key_fn else None


@dataclass
class CompoundCachePolicy(CachePolicy):
    """Several policies: the key hashes their keys (those that are None are left out).
    Nested compounds flatten, and the ``Inputs`` among them merge into one."""

    policies: list[CachePolicy] = field(default_factory=list)

    def __post_init__(self) -> None:
        flat = [
            inner
            for policy in self.policies
            for inner in (policy.policies if isinstance(policy, CompoundCachePolicy) else [policy])
        ]
        inputs = [p for p in flat if isinstance(p, Inputs)]
        self.policies = [p for p in flat if not isinstance(p, Inputs)]
        if inputs:
            excluded = sorted({name for p in inputs for name in p.exclude})
            self.policies.append(Inputs(exclude=excluded))

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        keys = []
        for policy in self.policies:
            key = policy.compute_key(
                task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs
            )
            if key is not None:
                keys.append(key)
        return hash_text("|".join(keys)) if keys else None

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Only strings (argument names) can be subtracted from a policy.")
        if any(isinstance(p, Inputs) for p in self.policies):
            return CompoundCachePolicy(policies=[*self.policies, Inputs(exclude=[other])])
        return self

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.policies)


@dataclass
class _None(CachePolicy):
    """No key: the run is not cached (and ``NONE + X`` is ``X``)."""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return other

    def __repr__(self) -> str:
        return "NONE"


@dataclass
class TaskSource(CachePolicy):
    """The source code of the task's function."""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if task_ctx is None:
            return None
        return source_hash(task_ctx.task.fn)

    def __repr__(self) -> str:
        return "TASK_SOURCE"


@dataclass
class FlowParameters(CachePolicy):
    """The parameters of the enclosing flow run."""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if not flow_parameters:
            return None
        items = sorted(flow_parameters.items())
        return hash_text(",".join(f"{k}={hash_input('flow', k, v)}" for k, v in items))

    def __repr__(self) -> str:
        return "FLOW_PARAMETERS"


@dataclass
class RunId(CachePolicy):
    """The enclosing flow run's id, else the task run's own."""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if task_ctx is None:
            return None
        run = task_ctx.task_run
        return str(run.flow_run_id or run.id)

    def __repr__(self) -> str:
        return "RUN_ID"


@dataclass
class Inputs(CachePolicy):
    """The task's arguments, but those named in ``exclude``."""

    exclude: list[str] = field(default_factory=list)

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if not inputs:
            return None
        exclude = self.exclude
        parts = []
        for name, value in sorted(inputs.items()):
            if name not in exclude:
                try:
                    parts.append(f"{name}={hash_value(value)}")
                except UnhashableValue as error:
                    task_name = getattr(getattr(task_ctx, "task", None), "name", "task")
                    raise _unhashable(task_name, name, value, error) from error
        return hash_text(",".join(parts))

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Only strings (argument names) can be subtracted from a policy.")
        return Inputs(exclude=[*self.exclude, other])

    def __repr__(self) -> str:
        return "INPUTS" + "".join(f" - {name!r}" for name in sorted(self.exclude))


def hash_input(task_name: str, name: str, value: Any) -> str:
    try:
        return hash_value(value)
    except UnhashableValue as error:
        raise _unhashable(task_name, name, value, error) from error


def _unhashable(task_name: str, name: str, value: Any, error: UnhashableValue) -> CacheKeyError:
    return CacheKeyError(
        f"The input {name!r} of task {task_name!r} ({type(value).__name__}) cannot be "
        f"hashed for the cache key ({error}). Pass cache_key_fn=... to compute the key "
        f"yourself, or exclude it with cache_policy=INPUTS - {name!r}."
    )


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


INPUTS = Inputs()
TASK_SOURCE = TaskSource()
FLOW_PARAMETERS = FlowParameters()
RUN_ID = RunId()
NONE = _None()
NO_CACHE = NONE
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID


def task_input_hash(context: Any, arguments: dict[str, Any]) -> str | None:
    """Prefect's ``task_input_hash`` for ``cache_key_fn``: the task's key, its code and
    the call's arguments."""
    task = context.task
    code = getattr(task.fn, "__code__", None)
    code_hex = code.co_code.hex() if code is not None else ""
    return hash_text(f"{task.task_key}|{code_hex}|{INPUTS.compute_key(context, arguments, {})}")


# Earlier names, kept for code written against them.
CompoundPolicy = CompoundCachePolicy
