"""Finding runs by a short id, as git finds commits by a short hash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_ext._errors import RunNotFound

if TYPE_CHECKING:
    from kernel_ext.store import Store

__all__ = ["resolve_run_id"]


def resolve_run_id(store: Store, prefix: str) -> str:
    """The full id of the one flow or task run whose id starts with ``prefix``."""
    matches = store.find_runs(prefix)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFound(
            f"No run has an id starting with {prefix!r}; see `taskbook runs ls`.", run_id=prefix
        )
    raise RunNotFound(
        f"{len(matches)} runs have ids starting with {prefix!r}; give more characters.",
        run_id=prefix,
    )
