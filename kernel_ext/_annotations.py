"""Wrappers that tell the engine how to treat a task's argument, as Prefect's do.

    annotation      the engine, resolving a task's inputs
    (none)          waits for futures and states, also nested in lists/dicts, and passes
                    their results; a failed upstream stops the task (NotReady)
    allow_failure   the same, but a failed upstream does not stop the task: the task is
                    passed the upstream's exception
    quote           leaves the value alone: no waiting, no looking inside (a large
                    collection costs nothing to pass); the task gets the value unwrapped
    opaque          waits for a future/state given directly and passes its result, but
                    does not look inside the value for nested futures
    unmapped        (``kernel_ext._mapping``) passes the value whole to every ``.map`` call

Each is a one-element tuple, as in Prefect, so tools that unpack tuples see the value.
"""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar

from kernel_ext._mapping import unmapped

__all__ = ["BaseAnnotation", "allow_failure", "opaque", "quote", "unmapped", "unwrap_annotations"]

T = TypeVar("T")


class BaseAnnotation(tuple[T], Generic[T]):
    """A value marked for the engine; ``unwrap()`` gives the value back."""

    __slots__ = ()

    def __new__(cls, value: T) -> Self:
        return super().__new__(cls, (value,))

    @property
    def value(self) -> T:
        return self[0]

    def unwrap(self) -> T:
        return self[0]

    def rewrap(self, value: T) -> Self:
        """The same annotation around another value (the engine's resolved one)."""
        return type(self)(value)

    def __eq__(self, other: object) -> bool:
        # A quote((1,)) is not the tuple ((1,),), nor an opaque((1,)).
        return type(self) is type(other) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # unhashable, as Prefect's

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self[0]!r})"


class allow_failure(BaseAnnotation[T]):
    """Run the task even if this input's upstream failed; the task gets its exception."""


class quote(BaseAnnotation[T]):
    """Pass the value as it is: the engine neither waits on nor looks inside it."""

    def unquote(self) -> T:
        return self.unwrap()


class opaque(BaseAnnotation[T]):
    """Resolve a future or state given directly, but do not look inside its result."""


def unwrap_annotations(value: Any) -> Any:
    """The value inside any nesting of annotations (``unmapped`` included)."""
    while True:
        if isinstance(value, BaseAnnotation):
            value = value.unwrap()
        elif isinstance(value, unmapped):
            value = value.value
        else:
            return value
