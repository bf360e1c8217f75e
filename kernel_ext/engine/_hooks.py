"""State hooks of tasks and flows: which ones a state calls, as in Prefect.

    tasks   on_running, on_completion (Completed and Cached), on_failure; and
            on_commit / on_rollback, which their transaction calls (hook(txn))
    flows   the same state hooks, and on_crashed, on_cancellation

Hooks are given as lists (``on_failure=[notify]``) or added with the decorator form
(``@my_task.on_failure``); each is ``hook(task_or_flow, run, state)`` and may be
``async def``. Failure hooks run once the run is final, not before a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kernel_ext._errors import OptionTypeError
from kernel_ext._states import State, StateType
from kernel_ext.engine._steps import Hook

__all__ = ["FLOW_HOOKS", "HOOK_KINDS", "TASK_HOOKS", "HookSet", "check_hooks"]

# The hook list each final or running state type calls.
_BY_TYPE = {
    StateType.RUNNING: "on_running",
    StateType.COMPLETED: "on_completion",
    StateType.FAILED: "on_failure",
    StateType.CRASHED: "on_crashed",
    StateType.CANCELLED: "on_cancellation",
    StateType.CANCELLING: "on_cancellation",
}
HOOK_KINDS = ("on_running", "on_completion", "on_failure", "on_crashed", "on_cancellation")
FLOW_HOOKS = HOOK_KINDS
TASK_HOOKS = ("on_running", "on_completion", "on_failure", "on_commit", "on_rollback")


def check_hooks(owner: str, kind: str, hooks: Iterable[Callable[..., Any]] | None) -> list[Any]:
    """``hooks`` as a list, refused at decoration time if it is not a list of callables."""
    if hooks is None:
        return []
    if callable(hooks) or not isinstance(hooks, Iterable):
        raise OptionTypeError(
            f"{owner}: {kind} takes a list of hooks, got {type(hooks).__name__}; write "
            f"{kind}=[{getattr(hooks, '__name__', 'hook')}]."
        )
    listed = list(hooks)
    for hook in listed:
        if not callable(hook):
            raise OptionTypeError(f"{owner}: every hook in {kind} must be callable, got {hook!r}.")
    return listed


class HookSet:
    """The hooks of one task or flow, by kind. The lists are the ones ``obj.<kind>_hooks``
    gives, so a hook appended there counts too."""

    __slots__ = ("_commit_lists", "_hooks", "_state_lists", "kinds", "owner")

    def __init__(self, owner: str, kinds: tuple[str, ...], given: dict[str, Any]) -> None:
        self.owner = owner
        self.kinds = kinds
        self._hooks: dict[str, list[Any]] = {}
        for kind in kinds:
            self.set(kind, given.get(kind))

    @property
    def active(self) -> bool:
        """Whether any state hook is set: the default path skips the hook steps at once."""
        return any(self._state_lists)

    @property
    def commits(self) -> bool:
        """Whether a transaction hook is set (the run then runs in a transaction)."""
        return any(self._commit_lists)

    def set(self, kind: str, hooks: Iterable[Callable[..., Any]] | None) -> None:
        self._hooks[kind] = check_hooks(self.owner, kind, hooks)
        lists = self._hooks.items()
        self._state_lists = tuple(v for k, v in lists if k in HOOK_KINDS)
        self._commit_lists = tuple(v for k, v in lists if k not in HOOK_KINDS)

    def add(self, kind: str, hook: Callable[..., Any]) -> None:
        self._hooks[kind].append(hook)

    def of(self, kind: str) -> list[Any]:
        return self._hooks.get(kind, [])

    def steps(self, subject: Any, run: Any, state: State) -> Iterator[Hook]:
        """The hook steps ``state`` calls (none for most states)."""
        kind = _BY_TYPE.get(state.type)
        hooks = self._hooks.get(kind) if kind is not None else None
        for hook in hooks or ():
            yield Hook(hook, (subject, run, state), self.owner)
