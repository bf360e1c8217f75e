"""The options of ``@task``, ``@flow`` and ``with_options``, typed for the user's checker.

``@task(retires=3)`` is then an error in the user's own mypy or pyright run, not a
surprise at run time; the names and types are Prefect's.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

__all__ = ["FlowOptions", "TaskOptions"]


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
