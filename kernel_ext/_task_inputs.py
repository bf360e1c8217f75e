"""Resolving a task's inputs: futures and states become values, and edges are recorded.

Futures may sit anywhere in the arguments, also inside lists, tuples, sets and dicts
(as in Prefect). Each one is waited for; its task run becomes an upstream of the caller.
An upstream that did not complete stops the downstream run before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kernel_ext._annotations import BaseAnnotation, allow_failure, opaque, quote
from kernel_ext._context import FlowRunContext
from kernel_ext._errors import UpstreamTaskError
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList
from kernel_ext._run_records import TaskRunId
from kernel_ext._states import Failed, State

__all__ = ["Resolved", "resolve_inputs"]

_CONTAINERS = (list, tuple, set, frozenset, dict)  # and their subclasses, e.g. map results


@dataclass(slots=True)
class Resolved:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    upstream: list[TaskRunId] = field(default_factory=list)
    failed: tuple[str, State] | None = None
    error: BaseException | None = None


def resolve_inputs(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Any,
    flow_ctx: FlowRunContext | None = None,
    own: str | None = None,
) -> Resolved:
    """Futures and states in the arguments (and ``wait_for``) waited for and replaced by
    their values. Arguments are passed by reference: a container is rebuilt only when a
    future inside it was replaced. ``own`` is the run being resolved for: its own future
    among the inputs fails it instead of waiting forever."""
    linked = linked_upstream((*args, *kwargs.values()), flow_ctx) if flow_ctx is not None else []
    if (
        not wait_for
        and not _any_may_hold_future(args)
        and not _any_may_hold_future(kwargs.values())
    ):
        return Resolved(args, kwargs, linked)
    resolver = _Resolver(own)
    resolver.upstream.extend(linked)
    resolved = Resolved(
        _same_or_new(args, tuple(resolver.visit(v) for v in args)),
        {k: resolver.visit(v) for k, v in kwargs.items()},
    )
    if wait_for:
        resolver.visit(list(wait_for) if isinstance(wait_for, (list, tuple)) else [wait_for])
    resolved.upstream = resolver.upstream
    resolved.failed = resolver.failed
    resolved.error = resolver.error
    return resolved


def linked_upstream(values: Iterable[Any], flow_ctx: FlowRunContext | None) -> list[TaskRunId]:
    """Task runs whose results are passed in as plain values (one container level deep)."""
    if flow_ctx is None or not flow_ctx.results:
        return []
    found: list[TaskRunId] = []
    for value in values:
        candidates = (
            value.values()
            if type(value) is dict
            else (value if type(value) in (list, tuple) else ())
        )
        for candidate in (value, *candidates):
            producer = flow_ctx.producer_of(candidate)
            if producer is not None and producer not in found:
                found.append(producer)
    return found


def _may_hold_future(value: Any) -> bool:
    return isinstance(value, (TaskRunFuture, State, *_CONTAINERS))


_SCALARS = frozenset({int, float, str, bool, bytes, type(None)})


def _any_may_hold_future(values: Iterable[Any]) -> bool:
    for value in values:  # a loop, not any(): this runs for every task call
        if type(value) not in _SCALARS and _may_hold_future(value):
            return True
    return False


def _same_or_new(old: Any, new: Any) -> Any:
    """``old`` itself when every item of ``new`` is the same object (no copy made)."""
    return old if all(a is b for a, b in zip(old, new, strict=True)) else new


class _Resolver:
    def __init__(self, own: str | None = None) -> None:
        self.own = own
        self.allow_failed = False
        self.upstream: list[TaskRunId] = []
        self.failed: tuple[str, State] | None = None
        self.error: BaseException | None = None

    def visit(self, value: Any) -> Any:
        if isinstance(value, BaseAnnotation):
            return self._annotated(value)
        if isinstance(value, TaskRunFuture):
            return self._future(value)
        if isinstance(value, State):
            return self._state(value, "a state")
        if type(value) in (list, tuple, set, frozenset):
            return _same_or_new(value, type(value)(self.visit(v) for v in value))
        if isinstance(value, TaskRunFutureList):
            if value:
                type(value[0]).fetch_many(value)  # one round trip (Dask), not one each
            return [self.visit(v) for v in value]
        if type(value) is dict:
            pairs = {self.visit(k): self.visit(v) for k, v in value.items()}
            same = pairs.keys() == value.keys() and all(pairs[k] is v for k, v in value.items())
            return value if same else pairs
        return value

    def _annotated(self, value: BaseAnnotation[Any]) -> Any:
        """Prefect's annotations: ``quote`` is passed as it is, ``opaque`` resolves only a
        future or state given directly, ``allow_failure`` lets a failed upstream through
        (the task gets its exception)."""
        inner = value.unwrap()
        if isinstance(value, quote):
            return inner
        if isinstance(value, opaque):
            if isinstance(inner, (TaskRunFuture, State)):
                return self.visit(inner)
            return inner
        if isinstance(value, allow_failure):
            allowed, self.allow_failed = self.allow_failed, True
            try:
                return self.visit(inner)
            finally:
                self.allow_failed = allowed
        return self.visit(inner)

    def _future(self, future: TaskRunFuture[Any]) -> Any:
        if self.own is not None and future.task_run.id == self.own:
            if self.failed is None:
                message = f"Task run {future.task_run.name!r} waits for its own future."
                self.error = UpstreamTaskError(message + " Remove it from wait_for.")
                self.failed = (future.task_run.name, Failed(message, data=self.error))
            return None
        future.wait()
        if future.task_run.id not in self.upstream:
            self.upstream.append(future.task_run.id)
        return self._state(future.state, future.task_run.name)

    def _state(self, state: State, label: str) -> Any:
        if state.is_completed():
            return state.value()
        if self.allow_failed and state.is_failed():
            return state.value(raise_on_failure=False)
        if self.failed is None:
            self.failed = (label, state)
            error = state.value(raise_on_failure=False)
            self.error = error if isinstance(error, BaseException) else None
        return None
