"""Transactions, as Prefect 3's ``prefect.transactions``.

A transaction groups work that succeeds or fails as one: a value is *staged*, and written
to the result storage under the transaction's key only when the transaction commits;
if it fails instead, its rollback hooks undo side effects, newest first::

    with transaction(key="load-2024-06") as txn:
        if not txn.is_committed():       # no record under the key yet
            txn.stage(load(), on_rollback_hooks=[delete_partial_load])

Nested transactions become children of the active one. A child commits with the outermost
transaction (``CommitMode.LAZY``, the default), at its own exit (``EAGER``) or never
(``OFF``); an exception anywhere rolls back the whole tree. ``IsolationLevel.SERIALIZABLE``
holds a lock on the key from ``begin()`` to the commit (see ``kernel_ext._locking``), so
two runs with the same key do the work once.

The store is Taskbook's ``ResultStorage``: ``read()`` returns its ``Hit`` (``.value``,
``.location``, ``.created``) where Prefect returns a ``ResultRecord``. The lock managers
(Prefect's ``prefect.locking``) are importable from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from kernel_ext._locking import FileSystemLockManager, LockManager, MemoryLockManager
from kernel_ext._results import default_storage
from kernel_ext._transaction import (
    CommitMode,
    IsolationLevel,
    RecordStore,
    Transaction,
    TransactionLogger,
    TransactionState,
    get_transaction,
    run_logger,
)

__all__ = [
    "CommitMode",
    "FileSystemLockManager",
    "IsolationLevel",
    "LockManager",
    "MemoryLockManager",
    "RecordStore",
    "Transaction",
    "TransactionState",
    "atransaction",
    "get_transaction",
    "transaction",
]


@contextmanager
def transaction(
    key: str | None = None,
    store: RecordStore | None = None,
    commit_mode: CommitMode | None = None,
    isolation_level: IsolationLevel | None = None,
    overwrite: bool = False,
    write_on_commit: bool = True,
    logger: TransactionLogger | None = None,
    lock_manager: LockManager | None = None,
) -> Iterator[Transaction]:
    """Open a transaction (a child of the active one, if any).

    With a ``key`` and no ``store`` the default result storage is used. The commit mode
    and isolation level are inherited from the parent when not given (top level: LAZY,
    READ_COMMITTED). ``overwrite`` ignores an existing record (a task's refresh_cache);
    ``write_on_commit=False`` commits without writing. ``lock_manager`` (beyond Prefect,
    whose store carries it) overrides the store's default lock manager."""
    with _opened(locals()) as txn:
        yield txn


@asynccontextmanager
async def atransaction(
    key: str | None = None,
    store: RecordStore | None = None,
    commit_mode: CommitMode | None = None,
    isolation_level: IsolationLevel | None = None,
    overwrite: bool = False,
    write_on_commit: bool = True,
    logger: TransactionLogger | None = None,
    lock_manager: LockManager | None = None,
) -> AsyncIterator[Transaction]:
    """``transaction()`` for ``async with``: waiting for the lock, store reads and sync
    hooks run off the event loop; coroutine hooks are awaited on it."""
    async with _opened(locals()) as txn:
        yield txn


def _opened(options: dict[str, Any]) -> Transaction:
    """The Transaction that ``transaction()``/``atransaction()`` enter: with a key and no
    store, the default result storage; the run's logger inside a run."""
    key, store, logger = options["key"], options["store"], options["logger"]
    return Transaction(
        key=key,
        store=store if store is not None or not key else default_storage(),
        commit_mode=options["commit_mode"],
        isolation_level=options["isolation_level"],
        overwrite=options["overwrite"],
        write_on_commit=options["write_on_commit"],
        logger=logger or run_logger(),
        lock_manager=options["lock_manager"],
    )
