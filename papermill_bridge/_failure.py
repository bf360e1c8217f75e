"""What failed in a deployment run, told in the user's terms.

papermill reports a failing cell by its index in the notebook it executed, which has
cells the user never wrote (Taskbook's attach cell, papermill's injected parameters). A
``RunFailure`` names the cell by its number in the user's own notebook (1-based, every
cell counted, as the deployment's version changes count them) with its first line, the
exception's type and message (read from the cell's stderr when the kernel reported none,
as for an IPython ``UsageError``), the traceback without colour codes, and the output
notebook where it can be seen.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["INJECTED_TAGS", "RunFailure", "failure_from_papermill"]

# Cells that are not the user's: ours, papermill's parameters and its error markers.
INJECTED_TAGS = frozenset({"injected-taskbook", "injected-parameters", "papermill-error-cell-tag"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)): (.+)$")


@dataclass(frozen=True, slots=True)
class RunFailure:
    """The failure of a deployment run, as stored in its Failed state's details.

    ``cell_number`` is None when the failing cell is not the user's (an injected cell)
    or cannot be told (the output notebook could not be read)."""

    cell_number: int | None
    cell_source: str
    exception_type: str
    exception_message: str
    traceback: str
    output_notebook: str

    @property
    def message(self) -> str:
        where = "A cell" if self.cell_number is None else f"Cell {self.cell_number}"
        first = self.cell_source.strip().splitlines()[0] if self.cell_source.strip() else ""
        quoted = f" (`{first[:60]}{'...' if len(first) > 60 else ''}`)" if first else ""
        return f"{where}{quoted} raised {self.exception_type}: {self.exception_message}"

    def to_details(self) -> dict[str, Any]:
        return asdict(self)

    def report(self) -> str:
        """The message, the traceback and where to look: the text of the run's error log."""
        parts = [self.message]
        if self.traceback:
            parts.append(self.traceback)
        parts.append(f"Output notebook: {self.output_notebook}")
        return "\n".join(parts)


def failure_from_papermill(error: Any, output: Path) -> RunFailure:
    """The failure behind papermill's ``PapermillExecutionError`` of the run at ``output``."""
    cells = _executed_cells(output)
    index = error.cell_index
    cell = cells[index] if 0 <= index < len(cells) else {}
    ename, evalue = error.ename, error.evalue
    if ename == "CellExecutionError" and not evalue:
        ename, evalue = _error_from_stderr(cell)
    source = error.source if isinstance(error.source, str) else "".join(error.source or ())
    return RunFailure(
        cell_number=_user_number(cells, index),
        cell_source=source,
        exception_type=ename,
        exception_message=evalue,
        traceback=strip_ansi("\n".join(error.traceback or ())),
        output_notebook=str(output),
    )


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _executed_cells(output: Path) -> list[dict[str, Any]]:
    """The cells as papermill executed them: the output without its error markers."""
    try:
        notebook = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [c for c in notebook.get("cells", []) if "papermill-error-cell-tag" not in _tags(c)]


def _user_number(cells: list[dict[str, Any]], index: int) -> int | None:
    if not 0 <= index < len(cells) or _tags(cells[index]) & INJECTED_TAGS:
        return None
    return sum(1 for c in cells[:index] if not _tags(c) & INJECTED_TAGS) + 1


def _tags(cell: dict[str, Any]) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _error_from_stderr(cell: dict[str, Any]) -> tuple[str, str]:
    """IPython reports some errors (``UsageError``) on stderr only, not as an error."""
    text = "".join(
        "".join(o.get("text", "")) if isinstance(o.get("text"), list) else o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    lines = [line for line in strip_ansi(text).splitlines() if line.strip()]
    for line in reversed(lines):
        match = _ERROR_LINE.match(line.strip())
        if match:
            return match.group(1), match.group(2)
    if lines:
        return "CellExecutionError", lines[-1].strip()
    return "CellExecutionError", "the cell failed without an error message"
