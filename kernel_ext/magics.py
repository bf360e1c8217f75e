"""IPython magics: ``%%task`` cells and the ``%tasks`` overview.

    %load_ext kernel_ext

    %%task fetch --retries 3 --retry-delay 2 --cache
    raw = call_api(source)

    %tasks                 # the notebook's task cells: state, staleness, inputs, outputs
    %tasks rerun-stale     # re-run stale cells in dependency order
    %tasks --json          # the same overview as data
    %graph [RUN_ID]        # the session's task-cell graph, or any past flow run's
    %approvals             # forms of every paused run on the store

Loaded by ``%load_ext kernel_ext`` only, so ``import kernel_ext`` never imports IPython.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from kernel_ext._errors import ConfigurationError
from kernel_ext.cells import CellRunner, TaskCell
from kernel_ext.cells._options import USAGE

__all__ = ["TaskbookMagics", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class TaskbookMagics(Magics):
    """The ``%%task`` and ``%tasks`` magics of one shell."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.runner = CellRunner(shell)

    @cell_magic("task")  # type: ignore[arg-type]
    def task(self, line: str, cell: str) -> None:
        """Run this cell as a tracked, retried, optionally cached task run.

        %%task [NAME] [--retries N] [--retry-delay S[,S...]] [--timeout DURATION] [--cache]
                      [--cache-expiration DURATION] [--refresh-cache] [--tags a,b]
                      [--log-prints | --no-log-prints]
        """
        try:
            outcome = self.runner.run(line, cell)
        except ConfigurationError as error:
            raise UsageError(f"{error}\nUsage: {USAGE}") from None
        except SyntaxError:
            shell: Any = self.shell
            shell.showsyntaxerror()
            return
        for note in outcome.notes:
            print(f"[taskbook] {note}")
        state = outcome.state
        if state.is_failed() or state.is_crashed():
            raise _shown_as_cell_error(self.shell, state, outcome.compiled)
        if state.is_cancelled():  # e.g. a rejected approval: Run All must stop here
            from kernel_ext._errors import CancelledRun

            raise CancelledRun(f"{outcome.cell.name}: {state.message or 'Cancelled'}")

    @line_magic("tasks")  # type: ignore[arg-type]
    def tasks(self, line: str) -> Any:
        """List the notebook's task cells; `%tasks rerun-stale` re-runs the stale ones.

        %tasks [--json | rerun-stale]
        """
        words = line.split()
        if words == ["rerun-stale"]:
            return self._rerun_stale()
        if words == ["--json"]:
            return [_describe(c) for c in self.runner.graph.cells.values()]
        if words:
            raise UsageError(
                f"%tasks: unknown argument {line!r}.\nUsage: %tasks [--json | rerun-stale]"
            )
        print(_table([_describe(c) for c in self.runner.graph.cells.values()]))
        return None

    @line_magic("graph")  # type: ignore[arg-type]
    def graph(self, line: str) -> Any:
        """Show the session's task-cell graph, or the graph of flow run RUN_ID.

        %graph [RUN_ID]
        """
        from kernel_ext.widgets import RunGraph

        run_id = line.strip()
        if run_id:
            from kernel_ext._lookup import resolve_run_id
            from kernel_ext.store import get_store

            return RunGraph.from_store(resolve_run_id(get_store(), run_id))
        session = self.runner.session
        if not session.started:
            raise UsageError("No task cell has run yet: run a %%task cell, or give a RUN_ID.")
        return RunGraph.for_flow_run(session.context().flow_run.id)

    @line_magic("approvals")  # type: ignore[arg-type]
    def approvals(self, line: str) -> None:
        """Show the forms of every paused run on the store; answering one resumes it.

        %approvals
        """
        from kernel_ext import approvals
        from kernel_ext._display import show_approval_form
        from kernel_ext.deployment import skipped_headless

        if skipped_headless(
            "%approvals",
            "nobody can answer a form in a headless run; "
            "answer with `taskbook approvals ls` and `taskbook runs resume`",
        ):
            return
        pending = approvals.pending()
        if not pending:
            print("[taskbook] Nothing is waiting for an answer.")
        for request in pending:
            print(
                f"[taskbook] {request.get('flow_name')} / {request.get('flow_run_name')}: "
                f"{request['key']}"
            )
            show_approval_form(request)

    def _rerun_stale(self) -> None:
        stale = self.runner.graph.stale_cells_in_order()
        if not stale:
            print("[taskbook] Nothing is stale.")
            return
        for cell in stale:
            print(f"[taskbook] Re-running {cell.name}")
            self.task(cell.line, cell.body)


def _shown_as_cell_error(shell: Any, state: Any, compiled: Any) -> BaseException:
    """The failure, with a traceback of the cell's own frames as IPython shows it."""
    from kernel_ext.cells._execute import trim_traceback

    outcome = state.value(raise_on_failure=False)
    error = outcome if isinstance(outcome, BaseException) else RuntimeError(state.message)
    tb = trim_traceback(error, compiled.filename) if compiled else error.__traceback__
    lines = shell.InteractiveTB.structured_traceback(type(error), error, tb)
    try:
        # IPython prints _render_traceback_ instead of its own (longer) traceback.
        error._render_traceback_ = lambda: lines  # type: ignore[attr-defined,unused-ignore]
    except AttributeError:
        pass
    return error


def _describe(cell: TaskCell) -> dict[str, Any]:
    return {
        "name": cell.name,
        "state": cell.state,
        "stale": cell.stale,
        "inputs": list(cell.inputs),
        "outputs": sorted(cell.defs),
        "duration": cell.duration,
        "task_run_id": cell.last_task_run_id,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No task cells yet: start a cell with %%task NAME."
    headers = ["NAME", "STATE", "STALE", "INPUTS", "OUTPUTS", "DURATION"]
    cells = [headers] + [
        [
            r["name"],
            r["state"],
            "stale" if r["stale"] else "",
            ", ".join(r["inputs"]),
            ", ".join(r["outputs"]),
            "-" if r["duration"] is None else f"{r['duration']:.3f} s",
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


_loaded: dict[int, TaskbookMagics] = {}


def load_ipython_extension(shell: Any) -> None:
    if id(shell) in _loaded:
        return
    magics = TaskbookMagics(shell)
    shell.register_magics(magics)
    shell.events.register("pre_run_cell", lambda info: _remember_cell(magics, info))
    shell.events.register("post_run_cell", lambda result: _note_plain_cell(magics, result))
    _loaded[id(shell)] = magics
    _load_plugins(shell)


def _load_plugins(shell: Any) -> None:
    """Magics of other Taskbook layers (e.g. ``%promote``), found by entry point."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="taskbook.magics"):
        try:
            entry.load()(shell)
        except Exception as error:  # a broken plugin must not break the extension
            print(f"[taskbook] could not load the magics of {entry.name!r}: {error}")


def unload_ipython_extension(shell: Any) -> None:
    magics = _loaded.pop(id(shell), None)
    if magics is not None:
        magics.runner.session.end("The extension was unloaded.")


def _remember_cell(magics: TaskbookMagics, info: Any) -> None:
    magics.runner.cell_id = getattr(info, "cell_id", None)


def _note_plain_cell(magics: TaskbookMagics, result: Any) -> None:
    """A plain cell that rebinds a task cell's output breaks that output's lineage."""
    raw = getattr(result.info, "raw_cell", "") or ""
    if raw.lstrip().startswith("%%task") or not magics.runner.graph.producers:
        return
    from kernel_ext.cells._analysis import analyze

    # The code IPython ran (it transformed the cell before running it); transformed again
    # only if that failed, or for an IPython that does not say.
    code = getattr(result.info, "transformed_cell", None)
    try:
        if code is None or result.error_before_exec is not None:
            shell: Any = magics.shell
            code = shell.transform_cell(raw)
        analysis = analyze(code)
    except SyntaxError:
        return
    magics.runner.graph.record_plain_cell(analysis.defs | analysis.deleted)
