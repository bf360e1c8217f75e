"""A task run inside a transaction, as Prefect runs task runs.

Only where it changes anything: a transaction is active (``with transaction():``), the
task has ``on_commit``/``on_rollback`` hooks, or its cache policy is SERIALIZABLE. Then
the run's transaction is a child of the active one (committed with it; rolled back,
with its ``on_rollback`` hooks, when a later step of it fails), keyed by the cache key;
SERIALIZABLE locks the key, so a second run waits and then finds the first's record.
The result is staged on success, and the run's own write happens at commit. An async
run takes the lock and commits off its event loop.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from kernel_ext import _states as states
from kernel_ext.engine._steps import Blocking, Lifecycle

if TYPE_CHECKING:
    from kernel_ext.engine.task_run import TaskRunEngine

__all__ = ["close_transaction", "needs_transaction", "open_transaction", "stage"]


def needs_transaction(engine: TaskRunEngine) -> bool:
    task = engine.task
    if task.hooks.commits:
        return True
    if task.caches and str(getattr(task.cache_policy, "isolation_level", None) or "").endswith(
        "SERIALIZABLE"
    ):
        return True
    # Until the Transaction object's module is imported no transaction can be active, and
    # a task run does not pay for looking.
    if "kernel_ext._transaction" not in sys.modules:
        return False
    from kernel_ext._transaction import get_transaction

    return get_transaction() is not None


def open_transaction(engine: TaskRunEngine) -> Lifecycle:
    """Enter the run's transaction (waiting for the key's lock, off the event loop for an
    async run); a record already under the key ends the run Cached. Returns it."""
    from kernel_ext._transaction import Transaction, run_logger

    task = engine.task
    policy = task.cache_policy
    txn = Transaction(
        key=engine.cache_key,
        store=task.storage().with_serializer(task.result_serializer),
        overwrite=task.refresh_cache,
        isolation_level=getattr(policy, "isolation_level", None),
        lock_manager=getattr(policy, "lock_manager", None),
        write_on_commit=False,
        logger=run_logger(),
    )
    yield Blocking(txn.__enter__, txn.__aenter__)
    hit = txn.read() if engine.cache_key is not None and txn.is_committed() else None
    if hit is not None:
        engine.finish_cached(hit)
    else:
        engine.stage_into = txn
    return txn


def close_transaction(engine: TaskRunEngine, txn: Any, failure: BaseException | None) -> Lifecycle:
    """Leave the run's transaction: a run that did not complete rolls it back, raised or
    not; else it commits now or with its parent."""
    kind = (
        type(failure)
        if failure is not None
        else (None if engine.state.is_completed() else RuntimeError)
    )
    yield Blocking(lambda: txn.__exit__(kind), lambda: txn.__aexit__(kind))


def stage(engine: TaskRunEngine, txn: Any, state: states.State) -> None:
    """Stage the run's result: written (if it persists) and the task's ``on_commit``
    hooks run when the transaction commits; ``on_rollback`` hooks if it rolls back."""
    task, value = engine.task, state.data

    def persist(_txn: Any) -> None:
        if task.persists:
            engine.persist(value)

    def rolled_back(_txn: Any) -> None:
        engine.log_warning("rolled back as part of its transaction")

    txn.stage(
        value,
        on_rollback_hooks=[rolled_back, *task.on_rollback_hooks],
        on_commit_hooks=[persist, *task.on_commit_hooks],
        expiration=task.expiration_time(),
        label=f"task run {engine.run.name!r}",
    )
