"""Finding runs by a short id, as git finds commits by a short hash."""

from __future__ import annotations

from typing import Any

from kernel_ext._errors import RunNotFound

__all__ = ["resolve_run_id"]


def resolve_run_id(store: Any, prefix: str) -> str:
    """The full id of the one run whose id starts with ``prefix``."""
    matches = store.find_runs(prefix)
    if len(matches) == 1:
        return matches[0]  # type: ignore[no-any-return]
    if not matches:
        raise RunNotFound(f"No run has an id starting with {prefix!r}; see `taskbook runs ls`.")
    raise RunNotFound(
        f"{len(matches)} runs have ids starting with {prefix!r}; give more characters."
    )
