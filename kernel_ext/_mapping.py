"""Turning ``.map()`` arguments into one call per element.

Iterable arguments are mapped element by element and must have equal lengths; values
wrapped in ``unmapped(...)``, and non-iterable values, are passed whole to every call.
Strings and bytes count as single values, not iterables of characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from kernel_ext._errors import ConfigurationError

__all__ = ["map_arguments", "unmapped"]

T = TypeVar("T")


class unmapped(Generic[T]):
    """Pass ``value`` whole to every mapped call: ``add.map([1, 2], unmapped(10))``."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


def _is_mapped(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict, unmapped))


def map_arguments(
    task_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    arg_lists = [list(a) if _is_mapped(a) else a for a in args]
    kwarg_lists = {k: list(v) if _is_mapped(v) else v for k, v in kwargs.items()}
    lengths = {len(v) for v in (*arg_lists, *kwarg_lists.values()) if isinstance(v, list)}
    if not lengths:
        raise ConfigurationError(
            f"{task_name}.map() needs at least one iterable argument; "
            "to call it once, call it directly."
        )
    if len(lengths) > 1:
        raise ConfigurationError(
            f"{task_name}.map() got iterables of different lengths {sorted(lengths)}; "
            "wrap arguments that should not be mapped in unmapped(...)."
        )
    (count,) = lengths
    return [
        (
            tuple(_pick(a, i) for a in arg_lists),
            {k: _pick(v, i) for k, v in kwarg_lists.items()},
        )
        for i in range(count)
    ]


def _pick(value: Any, index: int) -> Any:
    if isinstance(value, list):
        return value[index]
    return value.value if isinstance(value, unmapped) else value
