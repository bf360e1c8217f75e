"""The ``Transaction`` object: staged value, hooks, children, values and key lock.

``kernel_ext.transactions`` is the public face (``transaction()``, ``atransaction()``
and Prefect's names); this module holds the object they enter and its states.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from kernel_ext._async_bridge import off_loop, run_coroutine_sync
from kernel_ext._errors import ConfigurationError, ResultError
from kernel_ext._locking import LockManager, lock_manager_for
from kernel_ext._results import Hit, ResultStorage

__all__ = [
    "CommitMode",
    "Hook",
    "IsolationLevel",
    "RecordStore",
    "Transaction",
    "TransactionLogger",
    "TransactionState",
    "get_transaction",
    "run_logger",
]

Hook = Callable[["Transaction"], Any]
TransactionLogger = logging.Logger | logging.LoggerAdapter[Any]


class IsolationLevel(StrEnum):
    """How a transaction sees others with its key; values equal names, as in Prefect, so
    ``IsolationLevel("SERIALIZABLE")`` works on a cache policy's string."""

    READ_COMMITTED = "READ_COMMITTED"
    SERIALIZABLE = "SERIALIZABLE"


class CommitMode(StrEnum):
    EAGER = "EAGER"
    LAZY = "LAZY"
    OFF = "OFF"


class TransactionState(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


class RecordStore(Protocol):
    """What a transaction needs of its store; ``ResultStorage`` is one."""

    def read(self, key: str) -> Hit | None: ...

    def write(self, key: str, value: Any, expiration: float | None, label: str) -> str: ...


class _NotSet:
    def __repr__(self) -> str:
        return "NOT_SET"


_NOT_SET: Any = _NotSet()
_FINAL = (TransactionState.COMMITTED, TransactionState.ROLLED_BACK)
_active: contextvars.ContextVar[Transaction] = contextvars.ContextVar("taskbook_transaction")
# Set in the worker thread of an `async with`, so coroutine hooks run on the caller's loop.
_default_logger = logging.getLogger("taskbook.transactions")


class Transaction:
    """One transaction: its staged value, hooks, child transactions, values and lock.

    Use it with ``with`` (or ``async with``), usually through ``transaction()``. The
    state moves PENDING -> ACTIVE (entered) -> STAGED (a value staged) -> COMMITTED or
    ROLLED_BACK; ``begin()`` finds an existing record under the key and makes the
    transaction COMMITTED at once, which is how a cached task skips its work.
    """

    def __init__(
        self,
        *,
        key: str | None = None,
        store: RecordStore | None = None,
        children: list[Transaction] | None = None,
        commit_mode: CommitMode | None = None,
        isolation_level: IsolationLevel | None = IsolationLevel.READ_COMMITTED,
        state: TransactionState = TransactionState.PENDING,
        on_commit_hooks: list[Hook] | None = None,
        on_rollback_hooks: list[Hook] | None = None,
        overwrite: bool = False,
        write_on_commit: bool = True,
        logger: TransactionLogger | None = None,
        lock_manager: LockManager | None = None,
    ) -> None:
        self.key = key
        self.store = store
        self.children: list[Transaction] = children if children is not None else []
        # Strings are accepted as Prefect's pydantic model accepts them ("SERIALIZABLE").
        self.commit_mode = None if commit_mode is None else CommitMode(commit_mode)
        self.isolation_level = None if isolation_level is None else IsolationLevel(isolation_level)
        self.state = TransactionState(state)
        self.on_commit_hooks: list[Hook] = on_commit_hooks or []
        self.on_rollback_hooks: list[Hook] = on_rollback_hooks or []
        self.overwrite = overwrite
        self.write_on_commit = write_on_commit
        self.logger: TransactionLogger = logger or _default_logger
        self.lock_manager = lock_manager
        self._stored_values: dict[str, Any] = {}
        self._staged_value: Any = None
        self._staged_expiration: float | None = None
        self._staged_label: str | None = None
        self._record: Hit | None = None
        self._holder = str(uuid.uuid4())
        self._locked = False
        self._token: contextvars.Token[Transaction] | None = None

    def __repr__(self) -> str:
        return f"Transaction(key={self.key!r}, state={self.state.name})"

    # --- values shared with the children -------------------------------------------------

    def set(self, name: str, value: Any) -> None:
        """Store ``value`` for this transaction and its children (not copied here)."""
        self._stored_values[name] = value

    def get(self, name: str, default: Any = _NOT_SET) -> Any:
        """The value set under ``name`` here or, failing that, in the nearest parent.

        A deep copy: changing it changes nothing stored until ``set`` is called, so a
        child cannot alter its parent's values. ValueError if unknown and no default."""
        if name in self._stored_values:
            return copy.deepcopy(self._stored_values[name])
        parent = self.get_parent()
        if parent is not None:
            return parent.get(name, default)
        if default is not _NOT_SET:
            return default
        raise ValueError(f"Could not retrieve value for unknown key: {name}")

    # --- state ---------------------------------------------------------------------------

    def is_committed(self) -> bool:
        return self.state is TransactionState.COMMITTED

    def is_rolled_back(self) -> bool:
        return self.state is TransactionState.ROLLED_BACK

    def is_staged(self) -> bool:
        return self.state is TransactionState.STAGED

    def is_pending(self) -> bool:
        return self.state is TransactionState.PENDING

    def is_active(self) -> bool:
        return self.state is TransactionState.ACTIVE

    # --- the tree ------------------------------------------------------------------------

    def add_child(self, transaction: Transaction) -> None:
        self.children.append(transaction)

    def get_parent(self) -> Transaction | None:
        """The transaction that was active when this one was entered; after the exit, the
        active one (its parent, when the exits were nested properly)."""
        if self._token is not None:
            old = self._token.old_value
            return old if isinstance(old, Transaction) else None
        return _active.get(None)

    # --- the work ------------------------------------------------------------------------

    def stage(
        self,
        value: Any,
        on_rollback_hooks: list[Hook] | None = None,
        on_commit_hooks: list[Hook] | None = None,
        *,
        expiration: float | None = None,
        label: str | None = None,
    ) -> None:
        """Hold ``value`` for the commit, with hooks for the commit or the rollback.

        Ignored once committed: a transaction that found its record keeps it.
        ``expiration`` (epoch seconds) is written with the record; ``label`` names the
        value in a serialisation error ("task run 'x'")."""
        if self.state is TransactionState.COMMITTED:
            return
        self._staged_value = value
        self._staged_expiration = expiration
        self._staged_label = label
        self.on_rollback_hooks += on_rollback_hooks or []
        self.on_commit_hooks += on_commit_hooks or []
        self.state = TransactionState.STAGED

    def begin(self) -> None:
        """Take the key's lock (SERIALIZABLE), then look for the key's record."""
        self._acquire()
        self._look_up()

    def read(self) -> Hit | None:
        """The record under the key: the one ``begin()`` found or this commit wrote, else
        read from the store once no other transaction holds the key's lock. None without
        a key or a store, or if there is no unexpired record."""
        if self.store is None or not self.key:
            return None
        if self._record is not None:
            return self._record
        locks = self._lock_manager()
        if locks is not None and not locks.is_lock_holder(self.key, self._holder):
            locks.wait_for_lock(self.key)
        return self.store.read(self.key)

    def reset(self) -> None:
        """Leave the context: hand this transaction to its parent (who commits or rolls it
        back with itself), and roll the parent back if this one rolled back."""
        parent = self._detach()
        if parent is not None and self.is_rolled_back():
            parent.rollback()

    def commit(self) -> bool:
        """Commit the children, run the commit hooks in order, write the staged value.

        False if already final, or if a step failed: then the error is logged and the
        transaction rolled back (so a failing hook stops the commit)."""
        if self.state in _FINAL:
            self._release()
            return False
        try:
            for child in self.children:
                child.commit()
            for hook in self.on_commit_hooks:
                self.run_hook(hook, "commit")
            self._write()
        except ResultError as error:
            self.logger.warning(
                "The result of transaction %r cannot be written: %s. Code execution will "
                "continue, but the transaction will not be committed.",
                self.key,
                error,
            )
            self.rollback()
            return False
        except Exception:
            self.logger.exception(
                "An error was encountered while committing transaction %r", self.key
            )
            self.rollback()
            return False
        self.state = TransactionState.COMMITTED
        self._release()
        return True

    def rollback(self) -> bool:
        """Run the rollback hooks newest first, then roll the children back, newest first.

        Does nothing (False) once committed or rolled back. A failing hook is logged and
        leaves the state as it was (False); the lock is released either way."""
        if self.state in _FINAL:
            return False
        try:
            for hook in reversed(self.on_rollback_hooks):
                self.run_hook(hook, "rollback")
            self.state = TransactionState.ROLLED_BACK
            for child in reversed(self.children):
                child.rollback()
            return True
        except Exception:
            self.logger.exception(
                "An error was encountered while rolling back transaction %r", self.key
            )
            return False
        finally:
            self._release()

    def run_hook(self, hook: Hook, hook_type: str) -> None:
        """Call ``hook(self)``, awaiting it if it is a coroutine function; logged unless
        the hook has ``log_on_run = False`` (the engine's own hooks). Errors propagate."""
        name = _hook_name(hook)
        log = getattr(hook, "log_on_run", True)
        if log:
            self.logger.info("Running %s hook %r", hook_type, name)
        try:
            outcome = hook(self)
            if inspect.isawaitable(outcome):
                run_coroutine_sync(outcome)
        except Exception:
            if log:
                self.logger.error(
                    "An error was encountered while running %s hook %r", hook_type, name
                )
            raise
        if log:
            self.logger.info(
                "%s hook %r finished running successfully", hook_type.capitalize(), name
            )

    # --- the context ---------------------------------------------------------------------

    def __enter__(self) -> Transaction:
        self._prepare()
        try:
            self.begin()
        except BaseException:  # a failed or interrupted begin keeps no lock
            self._release()
            raise
        self._token = _active.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._check_entered()
        self._settle(failed=exc_type is not None)
        self.reset()  # returns None: an exception from the block propagates

    async def __aenter__(self) -> Transaction:
        self._prepare()
        try:
            await self._aacquire()
            await off_loop(self._look_up)
        except BaseException:  # a failed or cancelled begin keeps no lock
            self._release()
            raise
        self._token = _active.set(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._check_entered()
        await off_loop(partial(self._settle, failed=exc_type is not None))
        parent = self._detach()
        if parent is not None and self.is_rolled_back():
            await off_loop(parent.rollback)

    async def aread(self) -> Hit | None:
        """``read()`` off the event loop (Prefect's ``await txn.read()``)."""
        return await off_loop(self.read)

    async def acommit(self) -> bool:
        return await off_loop(self.commit)

    async def arollback(self) -> bool:
        return await off_loop(self.rollback)

    # --- helpers -------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Inherit the commit mode and isolation level from the active transaction, and
        refuse SERIALIZABLE where nothing can hold a lock."""
        if self._token is not None:
            raise RuntimeError("Context already entered. Context enter calls cannot be nested.")
        parent = get_transaction()
        if self.commit_mode is None:
            self.commit_mode = parent.commit_mode if parent else CommitMode.LAZY
        if self.isolation_level is None:
            self.isolation_level = (
                parent.isolation_level if parent else IsolationLevel.READ_COMMITTED
            )
        if self._serializable() and self._lock_manager() is None:
            raise ConfigurationError(
                f"Isolation level SERIALIZABLE is not supported by provided configuration: "
                f"the store {self.store!r} has no lock manager (remote result storage cannot "
                "be locked by file). Pass lock_manager=MemoryLockManager() (threads of one "
                "process) or FileSystemLockManager(folder) (processes of one machine), or "
                "use READ_COMMITTED."
            )
        self.state = TransactionState.ACTIVE  # before begin(), which may make it COMMITTED
        self._record = None

    def _serializable(self) -> bool:
        return bool(
            self.store is not None
            and self.key
            and self.isolation_level is IsolationLevel.SERIALIZABLE
        )

    def _lock_manager(self) -> LockManager | None:
        if self.lock_manager is not None:
            return self.lock_manager
        if isinstance(self.store, ResultStorage):
            return lock_manager_for(self.store.base)
        return None

    def _acquire(self) -> None:
        locks = self._lock_manager()
        if self._serializable() and locks is not None and self.key:
            self.logger.debug("Acquiring lock for transaction %r", self.key)
            self._locked = locks.acquire_lock(self.key, self._holder)

    async def _aacquire(self) -> None:
        """Poll for the lock without blocking the loop; cancellation leaves nothing held."""
        locks = self._lock_manager()
        if self._serializable() and locks is not None and self.key:
            self.logger.debug("Acquiring lock for transaction %r", self.key)
            while not locks.acquire_lock(self.key, self._holder, acquire_timeout=0):
                await asyncio.sleep(0.05)
            self._locked = True

    def _release(self) -> None:
        locks = self._lock_manager()
        if self._locked and locks is not None and self.key:
            self.logger.debug("Releasing lock for transaction %r", self.key)
            self._locked = False
            try:
                locks.release_lock(self.key, self._holder)
            except ValueError as error:  # taken over meanwhile: the outcome stands
                self.logger.warning("The lock of transaction %r was lost: %s", self.key, error)

    def _look_up(self) -> None:
        if self.overwrite or self.store is None or not self.key:
            return
        try:
            self._record = self.store.read(self.key)
        except ResultError as error:  # a damaged record counts as none, as in Prefect
            self.logger.debug("Ignoring the record of transaction %r: %s", self.key, error)
        if self._record is not None:
            self.state = TransactionState.COMMITTED

    def _write(self) -> None:
        if self.store is None or not self.key or not self.write_on_commit:
            return
        label = self._staged_label or f"transaction {self.key!r}"
        value, expiration = self._staged_value, self._staged_expiration
        location = self.store.write(self.key, value, expiration, label)
        self._record = Hit(value, location, time.time())

    def _check_entered(self) -> None:
        if self._token is None:
            raise RuntimeError("Asymmetric use of context. Context exit called without an enter.")

    def _settle(self, *, failed: bool) -> None:
        """Everything the exit decides but the context reset: roll back on failure; else
        commit now (EAGER), leave it to the parent, or, with no parent, commit (LAZY) or
        roll back what nobody committed (OFF)."""
        if failed:
            self.rollback()
            return
        if self.commit_mode is CommitMode.EAGER:
            self.commit()
        if self.get_parent() is not None:
            return
        if self.commit_mode is CommitMode.OFF:
            self.rollback()
        elif self.commit_mode is CommitMode.LAZY:
            self.commit()

    def _detach(self) -> Transaction | None:
        parent = self.get_parent()
        if parent is not None:
            parent.add_child(self)
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        return parent


def get_transaction() -> Transaction | None:
    """The active transaction of this context (thread or task), or None."""
    return _active.get(None)


def run_logger() -> TransactionLogger:
    """The run's logger inside a flow or task run (so hook messages are stored with the
    run), else the module's, as Prefect falls back when there is no run context."""
    from kernel_ext._logging import get_run_logger, run_extra

    return get_run_logger("transactions") if run_extra() else _default_logger


def _hook_name(hook: Hook) -> str:
    if isinstance(hook, partial):
        return _hook_name(hook.func)
    return getattr(hook, "__name__", type(hook).__name__)
