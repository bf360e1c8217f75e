"""The options of ``@task``, ``@flow`` and ``with_options``: their types and their checks.

Typed for the user's checker, so ``@task(retires=3)`` is an error in the user's own mypy
or pyright run, not a surprise at run time; the names and types are Prefect's. The
checks run at decoration time and say which option is wrong and why.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

from kernel_ext._durations import out_of_range
from kernel_ext._errors import ConfigurationError
from kernel_ext.cache_policies import DEFAULT, NONE, CacheKeyFnPolicy, CachePolicy, _None

__all__ = [
    "UNSET",
    "FlowOptions",
    "TaskOptions",
    "cache_and_persistence",
    "check_expiration",
    "check_timeout",
]

# "Not given", as distinct from None, for the options whose default depends on others.
UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "UNSET"})()


class TaskOptions(TypedDict, total=False):
    name: str | None
    description: str | None
    tags: Iterable[str] | None
    version: str | None
    cache_policy: Any
    cache_key_fn: Callable[..., str | None] | None
    cache_expiration: datetime.timedelta | float | None
    task_run_name: str | Callable[..., str] | None
    retries: int | None
    retry_delay_seconds: float | list[float] | Callable[[int], list[float]] | None
    retry_jitter_factor: float | None
    persist_result: bool | None
    result_storage: Any
    result_serializer: Any
    result_storage_key: str | None
    cache_result_in_memory: bool
    timeout_seconds: float | None
    log_prints: bool | None
    refresh_cache: bool | None
    on_completion: list[Callable[..., Any]] | None
    on_failure: list[Callable[..., Any]] | None
    on_running: list[Callable[..., Any]] | None
    on_rollback: list[Callable[..., Any]] | None
    on_commit: list[Callable[..., Any]] | None
    retry_condition_fn: Callable[..., bool] | None
    viz_return_value: Any


class FlowOptions(TypedDict, total=False):
    name: str | None
    version: str | None
    flow_run_name: str | Callable[..., str] | None
    retries: int | None
    retry_delay_seconds: float | list[float] | Callable[[int], list[float]] | None
    task_runner: Any
    description: str | None
    timeout_seconds: float | None
    validate_parameters: bool
    persist_result: bool | None
    result_storage: Any
    result_serializer: Any
    cache_result_in_memory: bool
    log_prints: bool | None
    on_completion: list[Callable[..., Any]] | None
    on_failure: list[Callable[..., Any]] | None
    on_cancellation: list[Callable[..., Any]] | None
    on_crashed: list[Callable[..., Any]] | None
    on_running: list[Callable[..., Any]] | None
    tags: Iterable[str] | None


def cache_and_persistence(
    policy: Any,
    key_fn: Any,
    persist: bool | None,
    storage_key: str | None,
    storage: Any,
    serializer: Any,
) -> tuple[CachePolicy | None, bool | None]:
    """Prefect's rules: a cache option, a storage key, storage or a serializer turn
    persistence on; no persistence, no caching; a task that persists without naming a
    policy uses DEFAULT; a storage key is itself the key."""
    if key_fn is not None:
        policy = CacheKeyFnPolicy(cache_key_fn=key_fn)
    named = policy is not UNSET and policy is not None and not isinstance(policy, _None)
    if persist is None and (named or key_fn or storage_key or storage or serializer):
        persist = True
    if persist is False:
        return NONE, persist
    if policy is UNSET or policy is None:
        return (DEFAULT if storage_key is None else None), persist
    if storage_key is not None and not isinstance(policy, _None):
        return None, persist
    if not isinstance(policy, CachePolicy):
        raise ConfigurationError(
            f"cache_policy must be a CachePolicy such as INPUTS + TASK_SOURCE, got {policy!r}."
        )
    return policy, persist


def check_timeout(owner: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or out_of_range(value):
        raise ConfigurationError(
            f"{owner}: timeout_seconds must be a number > 0 and at most ten years, got {value!r}."
        )
    return float(value)


def check_expiration(owner: str, value: datetime.timedelta | float | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or out_of_range(seconds):
        raise ConfigurationError(
            f"{owner}: cache_expiration must be a positive timedelta or seconds, at most ten "
            f"years, got {value!r}."
        )
    return float(seconds)
