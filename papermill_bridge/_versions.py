"""What changed between two versions of a deployment: in words, and cell by cell.

``version_changes`` sums a change up in a few words ("cell 3 edited", "parameter n
added"), as ``taskbook deployments show`` lists them; ``version_diff`` gives the whole
change for a console to draw: every cell of both versions, paired as unchanged, inserted,
deleted or replaced (with a unified diff of a replaced cell's source), and the parameters
added, removed or changed. Cells are compared by their type and source; outputs and
metadata are left out.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from kernel_ext._errors import VersionNotFound
from kernel_ext.store import get_store
from kernel_ext.store.records import NotebookVersion, VersionRecord

__all__ = [
    "CellChange",
    "CellSide",
    "ParameterChange",
    "VersionDiff",
    "version_changes",
    "version_diff",
    "version_summaries",
]


class CellSide(TypedDict):
    """A cell of one version: its place in the notebook (from 1), type and source."""

    index: int
    cell_type: str
    source: str


class CellChange(TypedDict):
    """A cell unchanged ("equal", both sides), "insert"-ed (``new`` only), "delete"-d
    (``old`` only) or "replace"-d (both, with ``diff``: a unified diff of the sources)."""

    op: Literal["equal", "insert", "delete", "replace"]
    old: CellSide | None
    new: CellSide | None
    diff: str


class ParameterChange(TypedDict):
    """A parameter "added" (``new`` only), "removed" (``old`` only) or "changed" (its
    type, default or help; both sides)."""

    name: str
    op: Literal["added", "removed", "changed"]
    old: dict[str, Any] | None
    new: dict[str, Any] | None


# Version "from" (None: before the first version) to version "to" of "deployment"; the
# functional form, as "from" is a keyword.
VersionDiff = TypedDict(
    "VersionDiff",
    {
        "deployment": str,
        "from": int | None,
        "to": int,
        "changes": list[str],
        "cells": list[CellChange],
        "parameters": list[ParameterChange],
    },
)


def version_diff(
    name: str, from_version: int | None = None, to_version: int | None = None
) -> VersionDiff:
    """The change from ``from_version`` to ``to_version`` of deployment ``name``.

    ``to_version`` is the latest by default, ``from_version`` the one before it (None
    for version 1: every cell and parameter is new). ``DeploymentNotFound`` or
    ``VersionNotFound`` when either is absent.
    """
    store = get_store()
    new = store.read_deployment_version(name, to_version)
    before = new["version"] - 1 if from_version is None else from_version
    if before < 1 and from_version is not None:
        raise VersionNotFound(
            f"Deployment {new['deployment_name']!r} has no version {from_version}; versions "
            "count from 1.",
            name=new["deployment_name"],
            version=from_version,
        )
    old = store.read_deployment_version(name, before) if before >= 1 else None
    return {
        "deployment": new["deployment_name"],
        "from": None if old is None else old["version"],
        "to": new["version"],
        "changes": version_changes(old, new),
        "cells": _cell_diff(old, new),
        "parameters": _parameter_diff(old, new),
    }


# Versions never change: their summaries are worked out once per process, by version id.
_SUMMARIES: dict[str, list[str]] = {}
_SUMMARIES_KEPT = 5_000


def version_summaries(
    name: str, versions: Sequence[VersionRecord], newest: int = 20
) -> dict[int, list[str]]:
    """``version_changes`` of the ``newest`` of ``versions`` (deployment ``name``'s, as
    ``read_deployment`` lists them) against the version before each, by number; worked
    out once per version id, then remembered."""
    store = get_store()
    loaded: dict[int, NotebookVersion] = {}

    def load(number: int) -> NotebookVersion:
        if number not in loaded:
            loaded[number] = store.read_deployment_version(name, number)
        return loaded[number]

    found: dict[int, list[str]] = {}
    for version in sorted(versions, key=lambda v: v["version"], reverse=True)[:newest]:
        number = version["version"]
        if version["id"] not in _SUMMARIES:
            if len(_SUMMARIES) >= _SUMMARIES_KEPT:
                _SUMMARIES.clear()
            older = load(number - 1) if number > 1 else None
            _SUMMARIES[version["id"]] = version_changes(older, load(number))
        found[number] = _SUMMARIES[version["id"]]
    return found


def version_changes(old: NotebookVersion | None, new: NotebookVersion) -> list[str]:
    """What changed between two versions: cells added, removed or edited; parameters."""
    if old is None:
        return ["first version"]
    changes = _cell_changes(_cells(old), _cells(new))
    before = {p["name"]: p for p in old["parameters"]}
    after = {p["name"]: p for p in new["parameters"]}
    changes += [f"parameter {n} added" for n in sorted(set(after) - set(before))]
    changes += [f"parameter {n} removed" for n in sorted(set(before) - set(after))]
    changes += [
        f"parameter {n}: {before[n]['default']!r} -> {after[n]['default']!r}"
        for n in sorted(set(before) & set(after))
        if before[n] != after[n]
    ]
    return changes or ["no change in code or parameters"]


def _cells(version: NotebookVersion | None) -> list[tuple[str, str]]:
    """Each cell's type and source (a list of lines in the file is joined)."""
    if version is None:
        return []
    cells = json.loads(version["notebook"]).get("cells", [])
    found = []
    for cell in cells:
        source = cell.get("source", "")
        found.append((str(cell.get("cell_type", "code")), _text(source)))
    return found


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _opcodes(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[Any]:
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return matcher.get_opcodes()


def _cell_changes(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[str]:
    changes = []
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag == "insert":
            changes.append(f"cells {j1 + 1}-{j2} added" if j2 - j1 > 1 else f"cell {j1 + 1} added")
        elif tag == "delete":
            changes.append(f"{i2 - i1} cell(s) removed")
        elif tag == "replace":
            where = f"cells {j1 + 1}-{j2}" if j2 - j1 > 1 else f"cell {j1 + 1}"
            changes.append(f"{where} edited")
    return changes


def _cell_diff(
    old_version: NotebookVersion | None, new_version: NotebookVersion
) -> list[CellChange]:
    """Every cell of both versions once, in order. A replaced run of cells is paired
    first with first; the cells left over on the longer side are deleted or inserted."""
    old, new = _cells(old_version), _cells(new_version)
    labels = (_label(old_version), _label(new_version))
    found: list[CellChange] = []
    for tag, i1, i2, j1, j2 in _opcodes(old, new):
        if tag == "equal":
            found += [_change("equal", old, i1 + k, new, j1 + k) for k in range(i2 - i1)]
            continue
        pairs = min(i2 - i1, j2 - j1)
        for k in range(pairs):
            change = _change("replace", old, i1 + k, new, j1 + k)
            change["diff"] = _unified(change, labels)
            found.append(change)
        found += [_change("delete", old, i, new, None) for i in range(i1 + pairs, i2)]
        found += [_change("insert", old, None, new, j) for j in range(j1 + pairs, j2)]
    return found


def _change(
    op: Literal["equal", "insert", "delete", "replace"],
    old: list[tuple[str, str]],
    i: int | None,
    new: list[tuple[str, str]],
    j: int | None,
) -> CellChange:
    return {
        "op": op,
        "old": None if i is None else _side(old, i),
        "new": None if j is None else _side(new, j),
        "diff": "",
    }


def _side(cells: list[tuple[str, str]], index: int) -> CellSide:
    cell_type, source = cells[index]
    return {"index": index + 1, "cell_type": cell_type, "source": source}


def _label(version: NotebookVersion | None) -> str:
    return "empty" if version is None else f"v{version['version']}"


def _unified(change: CellChange, labels: tuple[str, str]) -> str:
    old, new = change["old"], change["new"]
    assert old is not None and new is not None
    lines = difflib.unified_diff(
        old["source"].splitlines(),
        new["source"].splitlines(),
        fromfile=f"{labels[0]} cell {old['index']} ({old['cell_type']})",
        tofile=f"{labels[1]} cell {new['index']} ({new['cell_type']})",
        lineterm="",
    )
    return "\n".join(lines)


def _parameter_diff(old: NotebookVersion | None, new: NotebookVersion) -> list[ParameterChange]:
    """Added, then removed, then changed, each by name (as ``version_changes`` says)."""
    before = {p["name"]: p for p in (old["parameters"] if old is not None else [])}
    after = {p["name"]: p for p in new["parameters"]}
    found: list[ParameterChange] = [
        {"name": n, "op": "added", "old": None, "new": after[n]}
        for n in sorted(set(after) - set(before))
    ]
    found += [
        {"name": n, "op": "removed", "old": before[n], "new": None}
        for n in sorted(set(before) - set(after))
    ]
    found += [
        {"name": n, "op": "changed", "old": before[n], "new": after[n]}
        for n in sorted(set(before) & set(after))
        if before[n] != after[n]
    ]
    return found
