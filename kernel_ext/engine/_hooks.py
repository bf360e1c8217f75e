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
    """The hooks of one task or flow, by kind."""

    __slots__ = ("_hooks", "active", "commits", "kinds", "owner")

    def __init__(self, owner: str, kinds: tuple[str, ...], given: dict[str, Any]) -> None:
        self.owner = owner
        self.kinds = kinds
        self._hooks: dict[str, list[Any]] = {
            kind: check_hooks(owner, kind, given.get(kind)) for kind in kinds
        }
        # Whether any state hook is set: the default path skips the hook steps at once.
        self.active = any(self._hooks[kind] for kind in kinds if kind in HOOK_KINDS)
        # Whether a transaction hook is set (the run then runs in a transaction).
        self.commits = any(self._hooks[kind] for kind in kinds if kind not in HOOK_KINDS)

    def add(self, kind: str, hook: Callable[..., Any]) -> None:
        self._hooks[kind].append(hook)
        self.active = self.active or kind in HOOK_KINDS
        self.commits = self.commits or kind not in HOOK_KINDS

    def of(self, kind: str) -> list[Any]:
        return self._hooks.get(kind, [])

    def steps(self, subject: Any, run: Any, state: State) -> Iterator[Hook]:
        """The hook steps ``state`` calls (none for most states)."""
        kind = _BY_TYPE.get(state.type)
        hooks = self._hooks.get(kind) if kind is not None else None
        for hook in hooks or ():
            yield Hook(hook, (subject, run, state), self.owner)
