"""What ``Flow`` and ``Task`` share: the decorated function and how it is called.

Both keep the options they were made with (``with_options`` copies them), take state
hooks as lists or by decorator (``@my_task.on_failure``), bind as methods (``@task`` on
a ``def`` in a class, above ``@classmethod`` or ``@staticmethod``), and give their runs
their own tags and those of enclosing ``tags(...)`` blocks.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any, Self

from kernel_ext._errors import ReservedArgumentError
from kernel_ext._results import ResultStorage, default_storage
from kernel_ext._retries import RetryPolicy
from kernel_ext._tags import _current as _current_tags
from kernel_ext.engine._hooks import HookSet

__all__ = ["Runnable", "check_reserved", "hook_adder", "hook_list", "unwrap_method"]

Hook = Callable[..., Any]


def hook_adder(kind: str) -> Callable[[Any, Hook], Hook]:
    """The decorator method ``obj.<kind>``: ``@my_flow.on_failure`` adds a hook."""

    def add(self: Any, fn: Hook) -> Hook:
        self.hooks.add(kind, fn)
        return fn

    add.__name__ = kind
    add.__doc__ = f"``@obj.{kind}``: add a hook of this kind (the hook is returned)."
    return add


def hook_list(kind: str) -> property:
    """The property ``obj.<kind>_hooks``: the hooks of that kind, as Prefect names them
    (a list to append to, or to replace)."""
    return property(
        lambda self: self.hooks.of(kind),
        lambda self, hooks: self.hooks.set(kind, hooks),
        doc=f"The {kind} hooks.",
    )


class Runnable:
    """The base of ``Flow`` and ``Task``; subclasses set the attributes below."""

    fn: Callable[..., Any]
    name: str
    tags: tuple[str, ...]
    hooks: HookSet
    retry_policy: RetryPolicy
    is_async: bool
    _options: dict[str, Any]
    _storage: ResultStorage | None = None
    _method_kind: str | None = None  # "classmethod" or "staticmethod"
    _bound_to: Any = None  # the instance (or class) a method is bound to

    on_running = hook_adder("on_running")
    on_completion = hook_adder("on_completion")
    on_failure = hook_adder("on_failure")
    on_running_hooks = hook_list("on_running")
    on_completion_hooks = hook_list("on_completion")
    on_failure_hooks = hook_list("on_failure")

    def __get__(self, instance: Any, owner: Any) -> Self:
        """As a method: bound to ``instance`` (to the class, for a classmethod); the
        first argument is passed for you."""
        if self._method_kind == "classmethod":
            return self._bound(owner)
        if instance is None or self._method_kind == "staticmethod":
            return self
        return self._bound(instance)

    def _bound(self, target: Any) -> Self:
        bound = copy.copy(self)
        bound._bound_to = target
        return bound

    def _with_bound(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return args if self._bound_to is None else (self._bound_to, *args)

    def _copy_with(self, options: dict[str, Any]) -> Self:
        """A copy with ``options`` changed; hooks added since it was made are kept."""
        given = {**self._options, **options}
        for kind in self.hooks.kinds:
            if kind not in options:
                given[kind] = list(self.hooks.of(kind))
        make: Any = type(self)  # Flow or Task: made from the function and its options
        copied: Self = make(self.fn, **given)
        copied._method_kind, copied._bound_to = self._method_kind, self._bound_to
        return copied

    @property
    def retries(self) -> int:
        return self.retry_policy.retries

    @property
    def retry_delay_seconds(self) -> Any:
        return self._options.get("retry_delay_seconds")

    @property
    def isasync(self) -> bool:
        return self.is_async

    def run_tags(self) -> tuple[str, ...]:
        """A run's tags: its own, and those of enclosing ``tags(...)`` blocks."""
        extra = _current_tags.get()
        if not extra:
            return self.tags
        return (*self.tags, *sorted(t for t in extra if t not in self.tags))

    def storage(self) -> ResultStorage:
        """Where results go: the ``result_storage`` option, else the default folder."""
        return self._storage or default_storage()


def unwrap_method(fn: Any) -> tuple[Any, str | None]:
    """The function inside ``classmethod``/``staticmethod``, and which kind it was."""
    if isinstance(fn, (classmethod, staticmethod)):
        return fn.__func__, type(fn).__name__
    return fn, None


def check_reserved(fn: Callable[..., Any]) -> None:
    """As in Prefect: a function cannot take ``return_state`` or ``wait_for``."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    for reserved in ("return_state", "wait_for"):
        if reserved in parameters:
            raise ReservedArgumentError(
                f"{reserved!r} is a reserved argument name and cannot be used; rename "
                f"the parameter of {getattr(fn, '__name__', fn)!r}."
            )
