"""``ResourceSpecification``: which resources a trigger covers, by their labels.

A specification maps a label to one pattern or a list of them; a resource matches when,
for every label, its value matches one of the patterns. Patterns are globs (``*``, ``?``,
``[...]``) and ``!`` in front negates one: Prefect's server matches labels the same way.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Protocol, Union

from pydantic import RootModel

__all__ = ["Labelled", "ResourceSpecification", "glob_matches"]


class Labelled(Protocol):
    """What a specification reads of a resource: its labels (an event's ``Resource``)."""

    def get(self, label: str, default: None = None, /) -> str | None: ...


def glob_matches(expected: str, value: str | None) -> bool:
    """Whether ``value`` matches the glob ``expected`` (``!`` in front negates it); a
    missing label matches nothing, not even a negation."""
    if value is None:
        return False
    positive = not expected.startswith("!")
    found = fnmatch.fnmatchcase(value, expected.removeprefix("!"))
    return found if positive else not found


class ResourceSpecification(RootModel[dict[str, Union[str, list[str]]]]):
    """Label patterns a resource must match (Prefect's ``ResourceSpecification``)."""

    def matches_every_resource(self) -> bool:
        return len(self.root) == 0

    def matches_every_resource_of_kind(self, prefix: str) -> bool:
        """Whether it lets every resource of kind ``prefix`` through (it is empty, or
        only asks ``prefect.resource.id`` to be ``prefix.*``)."""
        if self.matches_every_resource():
            return True
        if len(self.root) != 1 or "prefect.resource.id" not in self.root:
            return False
        return f"{prefix}.*" in self["prefect.resource.id"]

    def includes(self, candidates: Iterable[Labelled]) -> bool:
        """Whether any of ``candidates`` matches (an empty specification takes all)."""
        return self.matches_every_resource() or any(self.matches(c) for c in candidates)

    def matches(self, resource: Labelled) -> bool:
        return all(
            any(glob_matches(pattern, resource.get(label)) for pattern in patterns)
            for label, patterns in self.items()
        )

    def items(self) -> list[tuple[str, list[str]]]:
        return [(label, self[label]) for label in self.root]

    def __getitem__(self, label: str) -> list[str]:
        value = self.root[label]
        return [value] if isinstance(value, str) else list(value)

    def __contains__(self, label: object) -> bool:
        return label in self.root

    def __len__(self) -> int:
        return len(self.root)
