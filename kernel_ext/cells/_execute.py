"""Running a cell's body in the user's namespace, exactly as IPython would show it.

All statements run in ``exec`` mode except a trailing expression, which is compiled in
``single`` mode so that ``sys.displayhook`` shows its value as the cell's ``Out``. The code
is registered with IPython's compiler cache, so tracebacks show the cell's lines.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import CodeType, TracebackType
from typing import Any

__all__ = ["CompiledCell", "compile_cell", "trim_traceback"]


@dataclass(frozen=True, slots=True)
class CompiledCell:
    """A cell body ready to run: its statements and its trailing expression, if any."""

    filename: str
    statements: CodeType | None
    last_expression: CodeType | None

    def run(self, global_ns: dict[str, Any], local_ns: dict[str, Any]) -> None:
        if self.statements is not None:
            exec(self.statements, global_ns, local_ns)
        if self.last_expression is not None:
            exec(self.last_expression, global_ns, local_ns)


def compile_cell(tree: ast.Module, filename: str, display_last: bool = True) -> CompiledCell:
    body = list(tree.body)
    last = None
    if display_last and body and isinstance(body[-1], ast.Expr):
        last = compile(ast.Interactive(body=[body.pop()]), filename, "single")
    statements = compile(ast.Module(body=body, type_ignores=[]), filename, "exec") if body else None
    return CompiledCell(filename, statements, last)


def trim_traceback(error: BaseException, filename: str) -> TracebackType | None:
    """The traceback from the first frame of the cell on: the engine's frames are noise."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return tb or error.__traceback__
