"""Running a ``%%task`` cell as a task run of the session's flow run.

``CellRunner.run`` parses the options, analyses the code, computes the cache key, drives
the task engine around the cell body, restores cached outputs, and updates the notebook's
task graph. The body runs in the user's namespace, so the cell behaves as without the
magic; the run's states, logs and upstream edges land in the store like any task run's.

A notebook runs the same cells again and again, so what depends only on a cell's text is
worked out once and kept: its options, its transformed code (when IPython's own static
transforms make it, see ``_Transforms``), its analysis and compiled code, and its task.
Every execution still makes a task run of its own, with its states, inputs and outputs.
"""

from __future__ import annotations

import ast
import time
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kernel_ext import _states as states
from kernel_ext._context import flow_run_context
from kernel_ext._errors import ResultError
from kernel_ext._events import ResultEvent, bus
from kernel_ext._hashing import UnhashableValue, hash_text, hash_value
from kernel_ext._results import default_storage
from kernel_ext._run_records import TaskRun, TaskRunId
from kernel_ext._tasks import Task
from kernel_ext.cache_policies import CacheKeyFnPolicy
from kernel_ext.cells._analysis import CellAnalysis, analyze
from kernel_ext.cells._execute import CompiledCell, compile_cell
from kernel_ext.cells._graph import NotebookGraph, TaskCell
from kernel_ext.cells._options import TaskCellOptions, parse_options
from kernel_ext.cells._session import InteractiveSession
from kernel_ext.deployment import attached_run_id
from kernel_ext.engine.task_run import TaskRunEngine, create_task_run, run_task_sync

if TYPE_CHECKING:
    from typing import Unpack

    from kernel_ext._options import TaskOptions

__all__ = ["CellOutcome", "CellRunner"]

# Bounds of the runner's caches: far more distinct cells than a notebook has.
_KEEP_SOURCES = 512
_KEEP_TASKS = 256


@dataclass(slots=True)
class CellOutcome:
    """What happened to one task cell execution."""

    cell: TaskCell
    state: states.State
    compiled: CompiledCell | None
    notes: list[str]


class CellRunner:
    """Runs task cells for one IPython shell and keeps the notebook's task graph."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session = InteractiveSession(shell.user_ns)
        self.graph = NotebookGraph()
        self.cell_id: str | None = None
        self._run: TaskRun | None = None
        self._transforms = _Transforms(shell)
        self._compiled: dict[str, CompiledCell | None] = {}
        self._tasks: dict[Hashable, tuple[_CellTask, _Slot]] = {}

    def run(self, line: str, body: str) -> CellOutcome:
        options = parse_options(line)
        code = self._transforms.transform(body)
        kept = self._kept_code(code)
        # A SyntaxError is the caller's to show, like Python's own.
        tree = ast.parse(code) if kept is None else None
        analysis = analyze(code)
        cell = self.graph.record_source(
            options.name or self._default_name(),
            line,
            body,
            analysis.refs,
            analysis.defs | analysis.deleted,
        )
        namespace = self.shell.user_ns
        cell.inputs = tuple(sorted(r for r in analysis.refs if r in namespace))
        notes = [
            f"`from {m} import *` binds names Taskbook cannot see; list them explicitly "
            "to track them."
            for m in analysis.star_imports
        ]
        key = self._cache_key(cell, analysis, options, notes)
        filename = self.shell.compile.cache(code, self._cell_number())
        if kept is None:
            assert tree is not None
            compiled = compile_cell(tree, filename)
        else:
            compiled = self._compiled[code] = kept.renamed(filename)
        state, body_ran = self._drive(cell, options, compiled, key)
        completed = state.type is states.StateType.COMPLETED
        if completed and not body_ran:  # a cache hit: Cached is a kind of COMPLETED
            restored = self._restore(cell, analysis, state)
            if options.cache:
                notes.append(restored)
        elif completed and key is not None:
            self._persist(cell, analysis, key, options, notes)
        run_time = self._duration()
        stale = self.graph.record_run(cell, state.name, run_time, self._last_run_id, namespace, key)
        if stale:
            notes.append(f"Now stale (run `%tasks rerun-stale`): {', '.join(sorted(stale))}.")
        return CellOutcome(cell, state, compiled, notes)

    def _kept_code(self, code: str) -> CompiledCell | None:
        """The code compiled at an earlier run; None if it is compiled at every run."""
        if code in self._compiled:
            kept = self._compiled[code] = self._compiled.pop(code)  # now the newest
            return kept
        kept = _compile_quietly(code)
        self._compiled[code] = kept
        _forget_oldest(self._compiled, _KEEP_SOURCES)
        return kept

    # --- the task run ---------------------------------------------------------------------

    def _drive(
        self, cell: TaskCell, options: TaskCellOptions, compiled: CompiledCell, key: str | None
    ) -> tuple[states.State, bool]:
        """Run the cell as a task run: its final state, and whether the cell's code ran.

        Both a run of the code and a cache hit end COMPLETED; only the first calls it.
        """
        execution = _Execution(compiled, self.shell.user_global_ns, self.shell.user_ns, key)
        task, slot = self._task(cell, options, key is not None)
        context = self.session.context()
        token = flow_run_context.set(context)
        previous, slot.execution = slot.execution, execution
        try:
            run = create_task_run(task, context)
            self._run = run
            upstream = [
                TaskRunId(c.last_task_run_id)
                for c in self.graph.upstream_cells(cell)
                if c.last_task_run_id
            ]
            engine = TaskRunEngine(task, run, args=(), kwargs={}, upstream=upstream)
            try:
                state: states.State = run_task_sync(engine, return_state=True)
            except BaseException:
                self.graph.record_run(cell, engine.state.name, self._duration(), run.id, {})
                raise
        finally:
            execution.done = True
            if previous is not None and not previous.done:
                slot.execution = previous  # this cell ran from the code of a run of itself
            flow_run_context.reset(token)
        return state, execution.ran

    def _task(
        self, cell: TaskCell, options: TaskCellOptions, keyed: bool
    ) -> tuple[_CellTask, _Slot]:
        """The cell's task for these options, made on its first run and kept: making a task
        costs more than the rest of a run. Its function runs the execution in its slot."""
        task_key = f"cell:{self.session.flow_name}:{cell.name}"
        made = (task_key, cell.name, options, keyed)
        found = self._tasks.pop(made, None)  # put back as the newest
        if found is None:
            slot = _Slot()
            found = (_cell_task(cell, options, slot, keyed, task_key), slot)
        self._tasks[made] = found
        _forget_oldest(self._tasks, _KEEP_TASKS)
        return found

    @property
    def _last_run_id(self) -> str:
        assert self._run is not None
        return str(self._run.id)

    def _duration(self) -> float | None:
        run = self._run
        if run is None or run.start_time is None or run.end_time is None:
            return None
        return run.end_time - run.start_time

    # --- caching --------------------------------------------------------------------------

    def _cache_key(
        self, cell: TaskCell, analysis: CellAnalysis, options: TaskCellOptions, notes: list[str]
    ) -> str | None:
        # A deployment run keeps every cell's outputs, keyed by its run id: when a suspended
        # run is executed again, the cells that finished come back without running.
        run_scoped = None if options.cache else attached_run_id()
        if not options.cache and run_scoped is None:
            return None
        parts = [analysis.source_key, f"run={run_scoped}" if run_scoped else ""]
        for name in cell.inputs:
            value = self.shell.user_ns[name]
            try:
                parts.append(f"{name}={hash_value(value)}")
            except UnhashableValue as error:
                if run_scoped:
                    return None
                notes.append(
                    f"Not cached: the value of {name!r} ({type(value).__name__}) cannot be "
                    f"hashed ({error}); the cell ran uncached. Make it picklable, or compute "
                    "it inside this cell."
                )
                return None
        return "cell-" + hash_text("|".join(parts))

    def _persist(
        self,
        cell: TaskCell,
        analysis: CellAnalysis,
        key: str,
        options: TaskCellOptions,
        notes: list[str],
    ) -> None:
        namespace = self.shell.user_ns
        outputs = {name: namespace[name] for name in analysis.defs if name in namespace}
        expiration = (
            None if options.cache_expiration is None else (time.time() + options.cache_expiration)
        )
        try:
            location = default_storage().write(key, outputs, expiration, f"cell {cell.name!r}")
        except ResultError as error:
            notes.append(f"Not cached: {error}")
            return
        bus.emit(ResultEvent(self._last_run_id, key, location, time.time(), expiration))

    def _restore(self, cell: TaskCell, analysis: CellAnalysis, state: states.State) -> str:
        namespace = self.shell.user_ns
        outputs: dict[str, Any] = state.data or {}
        namespace.update(outputs)
        for name in analysis.deleted:
            namespace.pop(name, None)
        restored = ", ".join(sorted(outputs)) or "nothing"
        return f"{cell.name}: {state.message or 'Cached'}; restored {restored} without running."

    def _cell_number(self) -> int:
        """The number IPython gave the running cell (its ``In[n]``), so tracebacks agree.

        IPython versions differ in when they bump ``execution_count``; the compiler's
        map of cell files holds the number the running cell was compiled with.
        """
        numbers = getattr(self.shell.compile, "_filename_map", None)
        if numbers:
            return int(max(numbers.values()))
        return int(self.shell.execution_count)

    def _default_name(self) -> str:
        if self.cell_id:
            return f"cell-{self.cell_id[:8]}"
        return f"cell-{self.shell.execution_count}"


@dataclass(slots=True)
class _Execution:
    """One execution of a cell, as its task's function runs it."""

    compiled: CompiledCell
    global_ns: dict[str, Any]
    namespace: dict[str, Any]
    key: str | None
    ran: bool = False
    done: bool = False

    def run(self) -> dict[str, Any]:
        self.ran = True
        self.compiled.run(self.global_ns, self.namespace)
        return {}


class _Slot:
    """The execution of a kept cell task: the one under way, else the last one."""

    __slots__ = ("execution",)

    def __init__(self) -> None:
        self.execution: _Execution | None = None

    def current(self) -> _Execution:
        execution = self.execution
        if execution is None:
            raise RuntimeError("A cell's task runs only while its cell runs.")
        return execution


class _Transforms:
    """IPython's transforms of cell bodies (``!cmd``, ``%magic``...), kept per body.

    Only what IPython's own static transforms make is kept: they depend on the text
    alone. A body that IPython sees as one line also goes through its dynamic transforms
    (autocall, automagic: they depend on the namespace), so it is transformed at every
    run, as IPython would; so is every body while an extension's transform is installed
    (it may depend on anything)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._kept: dict[str, tuple[tuple[Any, ...], str | None]] = {}

    def transform(self, body: str) -> str:
        transforms = self._current()
        kept = self._kept.pop(body, None)  # put back as the newest
        if kept is None or kept[0] != transforms:
            kept = (transforms, self._keepable(body, transforms))
        self._kept[body] = kept
        _forget_oldest(self._kept, _KEEP_SOURCES)
        code = kept[1]
        return self.shell.transform_cell(body) if code is None else code

    def _current(self) -> tuple[Any, ...]:
        shell = self.shell
        manager = getattr(shell, "input_transformer_manager", None)
        if manager is None:
            return ()
        return (
            _function(shell.transform_cell),
            _function(manager.transform_cell),
            *manager.cleanup_transforms,
            *manager.line_transforms,
            *manager.token_transformers,
            *shell.input_transformers_post,
        )

    def _keepable(self, body: str, transforms: tuple[Any, ...]) -> str | None:
        """The body's code if it depends on the text alone, else None."""
        if not transforms or not all(_is_ipythons(t) for t in transforms):
            return None
        code = self.shell.input_transformer_manager.transform_cell(body)
        if len(code.splitlines()) == 1 or self.shell.input_transformers_post:
            return None  # dynamic transforms apply (see ``InteractiveShell.transform_cell``)
        return str(code)


def _compile_quietly(code: str) -> CompiledCell | None:
    """``code`` compiled if that warns of nothing, else None (also when it does not compile).

    Python warns of some code as it compiles it (``x is 1``, an invalid escape sequence),
    and IPython shows those warnings at every run: such code is compiled at every run.
    The warnings are caught for this one compile, at the first run of a cell's code.
    """
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            compiled = compile_cell(ast.parse(code), "<cell>")
        except Exception:  # raised again where the cell is compiled as before
            return None
    return None if warned else compiled


def _function(method: Any) -> Any:
    return getattr(method, "__func__", method)


def _is_ipythons(transform: Any) -> bool:
    return str(getattr(transform, "__module__", None) or "").startswith("IPython.")


def _forget_oldest(kept: dict[Any, Any], size: int) -> None:
    while len(kept) > size:
        del kept[next(iter(kept))]


class _CellTask(Task[[], dict[str, Any]]):
    """The task of one ``%%task`` cell, made with what sets it apart from a ``@task``.

    A ``Task`` takes its key from its function's module and name, and a deployment run
    that resumes restores its finished runs; a cell's task is keyed by its notebook and
    cell, and is not resumable: a cell keeps its outputs itself (see
    ``CellRunner._cache_key``). Settled while the task is made, so nothing sees a task
    half set up; the key is kept with the task's options, so ``with_options`` copies
    are cell tasks with the same key.
    """

    def __init__(
        self, fn: Callable[[], dict[str, Any]], *, task_key: str, **options: Unpack[TaskOptions]
    ) -> None:
        super().__init__(fn, **options)
        self._options["task_key"] = task_key
        self.task_key = task_key
        self.resumable = False
        # Unlike a @task (where no persistence means no caching, as in Prefect), a cell
        # looks its key up although the engine persists nothing: the runner keeps the
        # outputs.
        self.caches = self.cache_key_fn is not None
        if self.cache_key_fn is not None:
            self.cache_policy = CacheKeyFnPolicy(cache_key_fn=self.cache_key_fn)


def _cell_task(
    cell: TaskCell, options: TaskCellOptions, slot: _Slot, keyed: bool, task_key: str
) -> _CellTask:
    def body() -> dict[str, Any]:
        return slot.current().run()

    def cache_key(_ctx: Any, _params: Any) -> str | None:
        return slot.current().key

    return _CellTask(
        body,
        task_key=task_key,
        name=cell.name,
        tags=("cell", *options.tags),
        retries=options.retries,
        retry_delay_seconds=list(options.retry_delay) or None,
        timeout_seconds=options.timeout,
        # The key is computed before the run (from the cell's inputs); the engine looks it
        # up, and the runner persists the outputs itself so an unpicklable output only
        # turns caching off for this cell instead of failing it.
        cache_key_fn=cache_key if keyed else None,
        refresh_cache=options.refresh_cache,
        persist_result=False,
        log_prints=options.log_prints,
    )
