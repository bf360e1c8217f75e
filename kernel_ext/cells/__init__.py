"""Cells as tasks: the analysis, graph, session and runner behind ``%%task``."""

from __future__ import annotations

from kernel_ext.cells._graph import NotebookGraph, TaskCell
from kernel_ext.cells._runner import CellOutcome, CellRunner

__all__ = ["CellOutcome", "CellRunner", "NotebookGraph", "TaskCell"]
