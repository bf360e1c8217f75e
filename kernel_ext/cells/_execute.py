"""Running a cell's body in the user's namespace, exactly as IPython would show it.

All statements run in ``exec`` mode except a trailing expression, which is compiled in
``single`` mode so that ``sys.displayhook`` shows its value as the cell's ``Out``. The code
is registered with IPython's compiler cache, so tracebacks show the cell's lines. A cell
that runs again with the same code reuses its compiled code under the new file name.
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

    def renamed(self, filename: str) -> CompiledCell:
        """The same code as compiled from ``filename`` (IPython names each execution)."""
        if filename == self.filename:
            return self
        return CompiledCell(
            filename, _renamed(self.statements, filename), _renamed(self.last_expression, filename)
        )


def compile_cell(tree: ast.Module, filename: str, display_last: bool = True) -> CompiledCell:
    body = list(tree.body)
    last = None
    if display_last and body and isinstance(body[-1], ast.Expr):
        last = compile(ast.Interactive(body=[body.pop()]), filename, "single")
    statements = compile(ast.Module(body=body, type_ignores=[]), filename, "exec") if body else None
    return CompiledCell(filename, statements, last)


def _renamed(code: CodeType | None, filename: str) -> CodeType | None:
    """``code`` and the code objects nested in it (functions, classes...) from ``filename``."""
    if code is None:
        return None
    consts = tuple(
        _renamed(const, filename) if isinstance(const, CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def trim_traceback(error: BaseException, filename: str) -> TracebackType | None:
    """The traceback from the first frame of the cell on: the engine's frames are noise."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return tb or error.__traceback__
