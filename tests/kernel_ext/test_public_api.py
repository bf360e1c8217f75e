"""The public surface is deliberate: adding or removing a name must be a conscious change."""

from __future__ import annotations

import subprocess
import sys

import kernel_ext


def test_public_names_are_pinned() -> None:
    assert sorted(kernel_ext.__all__) == [
        "CacheKeyError",
        "ConfigurationError",
        "Flow",
        "ParameterValidationError",
        "PauseTimeout",
        "ResultError",
        "RunInput",
        "Secret",
        "State",
        "StateType",
        "StoreError",
        "Task",
        "TaskRunFuture",
        "TaskRunFutureList",
        "TaskRunTimeout",
        "TaskbookError",
        "ThreadPoolTaskRunner",
        "Variable",
        "allow_failure",
        "as_completed",
        "exponential_backoff",
        "flow",
        "get_run_context",
        "get_run_logger",
        "opaque",
        "pause_flow_run",
        "quote",
        "resume_flow_run",
        "runtime",
        "suspend_flow_run",
        "tags",
        "task",
        "transaction",
        "unmapped",
        "wait",
    ]
    for name in kernel_ext.__all__:
        assert getattr(kernel_ext, name) is not None


def test_import_stays_light() -> None:
    code = (
        "import sys, kernel_ext\n"
        "heavy = {'sqlalchemy', 'alembic', 'pydantic', 'fsspec', 'IPython', 'numpy', 'pandas'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_share_one_root() -> None:
    from kernel_ext import _errors

    for name in _errors.__all__:
        error = getattr(_errors, name)
        assert issubclass(error, (_errors.TaskbookError, _errors.TaskbookSignal)), name
    assert not issubclass(_errors.TaskbookSignal, Exception)


def _every_error_class() -> list[type[BaseException]]:
    """Every class of the hierarchy, wherever it is defined (the server's, the cells'...)."""
    import papermill_bridge._outcome
    import papermill_bridge.server._base  # noqa: F401
    from kernel_ext import _errors
    from kernel_ext.cells import _options  # noqa: F401

    found, todo = [], [_errors.TaskbookError, _errors.TaskbookSignal]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return sorted(set(found), key=lambda kind: kind.__name__)


def test_every_error_class_is_in_the_hierarchy_drawing() -> None:
    from kernel_ext import _errors

    drawing = _errors.__doc__ or ""
    missing = [kind.__name__ for kind in _every_error_class() if kind.__name__ not in drawing]
    assert missing == []


def test_errors_pickle_with_their_context() -> None:
    """They cross process boundaries (Dask workers, executors): the class and the
    context fields arrive as they were raised."""
    import pickle

    from kernel_ext import _errors

    for kind in _every_error_class():
        error = kind("what went wrong")
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is kind and str(back) == str(error), kind
    raised = _errors.ConcurrencySlotTimeout("no slot", limit="db")
    assert pickle.loads(pickle.dumps(raised)).limit == "db"
    missing = _errors.RunNotFound("no run", run_id="1a2b")
    assert pickle.loads(pickle.dumps(missing)).run_id == "1a2b"
    conflict = _errors.RunStateConflict("done", run_id="1a2b", state="Completed")
    assert vars(pickle.loads(pickle.dumps(conflict))) == {"run_id": "1a2b", "state": "Completed"}


def test_the_scale_out_modules_pin_their_names_too() -> None:
    import kernel_ext.concurrency
    import kernel_ext.dask

    assert sorted(kernel_ext.concurrency.__all__) == [
        "Concurrency",
        "concurrency",
        "rate_limit",
        "rate_limit_async",
    ]
    assert kernel_ext.dask.__all__ == ["DaskTaskRunner"]


def test_importing_the_dask_module_does_not_import_dask() -> None:
    code = (
        "import sys, kernel_ext.dask, kernel_ext.concurrency\nprint('distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
