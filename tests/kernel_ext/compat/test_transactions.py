"""Transactions behave as Prefect 3's (its tests/test_transactions.py and
tests/test_locking.py, in our words), on Taskbook's ResultStorage."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import _settings
from kernel_ext._errors import ConfigurationError
from kernel_ext._locking import (
    FileSystemLockManager,
    LockManager,
    MemoryLockManager,
    lock_manager_for,
)
from kernel_ext._results import Hit, ResultStorage
from kernel_ext.transactions import (
    CommitMode,
    IsolationLevel,
    Transaction,
    TransactionState,
    atransaction,
    get_transaction,
    transaction,
)

SERIALIZABLE = IsolationLevel.SERIALIZABLE


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path) -> Iterator[None]:
    """A keyed transaction without a store writes to the default storage: keep it in
    tmp_path, and check that no test leaves a transaction active."""
    with _settings.override(TASKBOOK_RESULTS_URL=str(tmp_path / "default-results")):
        yield
    assert get_transaction() is None


@pytest.fixture
def storage(tmp_path: Path) -> ResultStorage:
    return ResultStorage(str(tmp_path / "results"))


@pytest.fixture
def key() -> str:
    # Unique: MemoryLockManager's table is shared by the whole process, as in Prefect.
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def logger() -> logging.Logger:
    # Its own logger, which propagates to caplog whatever the "taskbook" logger does.
    return logging.getLogger("tests.transactions")


def recorder(calls: list[str], name: str) -> Callable[[Transaction], None]:
    def hook(txn: Transaction) -> None:
        calls.append(name)

    hook.__name__ = name
    return hook


def start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


# --- the public surface -------------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    from kernel_ext import _locking, transactions

    assert sorted(transactions.__all__) == [
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
    assert sorted(_locking.__all__) == [
        "FileSystemLockManager",
        "LockManager",
        "MemoryLockManager",
        "lock_manager_for",
    ]


def test_import_stays_light() -> None:
    code = (
        "import sys, kernel_ext.transactions\n"
        "print(sorted({'pydantic', 'sqlalchemy', 'fsspec', 'cloudpickle'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("enum", "names"),
    [
        (IsolationLevel, ["READ_COMMITTED", "SERIALIZABLE"]),
        (CommitMode, ["EAGER", "LAZY", "OFF"]),
        (TransactionState, ["PENDING", "ACTIVE", "STAGED", "COMMITTED", "ROLLED_BACK"]),
    ],
)
def test_enums_have_prefects_names_as_values(enum: Any, names: list[str]) -> None:
    assert [member.name for member in enum] == names
    assert [enum(name).name for name in names] == names  # a cache policy's string works


# --- state ----------------------------------------------------------------------------------


def test_options_may_be_given_as_strings_as_in_prefect() -> None:
    txn = Transaction(commit_mode="EAGER", isolation_level="SERIALIZABLE", state="STAGED")  # type: ignore[arg-type]
    assert txn.commit_mode is CommitMode.EAGER and txn.is_staged()
    assert txn.isolation_level is IsolationLevel.SERIALIZABLE


def test_a_new_transaction_is_pending_without_store_or_commit_mode() -> None:
    txn = Transaction()
    assert (txn.store, txn.commit_mode, txn.state) == (None, None, TransactionState.PENDING)
    assert txn.isolation_level is IsolationLevel.READ_COMMITTED


@pytest.mark.parametrize("state", list(TransactionState))
def test_state_predicates_match_the_state(state: TransactionState) -> None:
    txn = Transaction(state=state)
    predicates = {
        "ACTIVE": txn.is_active(),
        "PENDING": txn.is_pending(),
        "COMMITTED": txn.is_committed(),
        "STAGED": txn.is_staged(),
        "ROLLED_BACK": txn.is_rolled_back(),
    }
    assert [name for name, true in predicates.items() if true] == [state.name]


def test_lifecycle_pending_active_committed_and_rolled_back() -> None:
    txn = Transaction()
    with txn:
        assert txn.is_active()
        txn.stage("x")
        assert txn.is_staged()
    assert txn.is_committed()

    failing = Transaction()
    with pytest.raises(ValueError, match="boom"), failing:
        raise ValueError("boom")
    assert failing.is_rolled_back()


def test_entering_twice_or_exiting_without_enter_is_refused() -> None:
    txn = Transaction()
    with txn, pytest.raises(RuntimeError, match="already entered"):
        txn.__enter__()
    with pytest.raises(RuntimeError, match="without an enter"):
        Transaction().__exit__(None, None, None)


# --- the active transaction and the tree ------------------------------------------------------


def test_get_transaction_follows_nesting_and_resets_after_an_error() -> None:
    assert get_transaction() is None
    with transaction() as outer:
        assert get_transaction() is outer
        with pytest.raises(ValueError), transaction() as inner:
            assert get_transaction() is inner
            assert inner.get_parent() is outer
            raise ValueError
        assert get_transaction() is outer
        assert outer.get_parent() is None
    assert get_transaction() is None


def test_a_thread_does_not_inherit_the_active_transaction() -> None:
    seen: list[Transaction | None] = []
    with transaction():
        start(lambda: seen.append(get_transaction())).join()
    assert seen == [None]


def test_closed_children_are_handed_to_the_parent() -> None:
    with transaction() as outer:
        with transaction() as first:
            pass
        with transaction() as second:
            pass
    assert outer.children == [first, second]


def test_get_parent_works_in_a_rollback_hook_after_success() -> None:
    # Prefect issue 15593: the closed child's hook runs when a later sibling fails.
    parents: list[Transaction | None] = []
    outer = Transaction()
    with pytest.raises(ValueError), outer:
        with transaction(key="first") as first:
            first.stage("v", on_rollback_hooks=[lambda txn: parents.append(txn.get_parent())])
        with transaction(key="trouble"):
            raise ValueError("acting out")
    assert parents == [outer]


# --- values ---------------------------------------------------------------------------------


def test_set_and_get_with_children_inheriting_and_overriding() -> None:
    with transaction() as top:
        top.set("key", 42)
        with transaction() as inner:
            assert inner.get("key") == 42
            inner.set("key", "string")
            assert (inner.get("key"), top.get("key")) == ("string", 42)
        assert top.get("key") == 42


def test_get_returns_a_copy_so_a_child_cannot_change_its_parents_value() -> None:
    with transaction() as top:
        top.set("key", {"x": [42]})
        with transaction() as inner:
            value = inner.get("key")
            value["x"].append(43)
            assert inner.get("key") == {"x": [42]}
            inner.set("key", value)
            assert inner.get("key") == {"x": [42, 43]}
        assert top.get("key") == {"x": [42]}


def test_parent_values_set_after_the_child_opened_are_visible() -> None:
    parent, child = Transaction(), Transaction()
    with parent, child:
        parent.set("list", [1, 2, 3])
        assert child.get("list") == [1, 2, 3]


@pytest.mark.parametrize(("default", "expected"), [(None, None), ("string", "string")])
def test_get_of_an_unknown_name_gives_the_default(default: Any, expected: Any) -> None:
    with transaction() as txn:
        assert txn.get("foobar", default) == expected


def test_get_of_an_unknown_name_without_default_raises() -> None:
    with transaction() as outer, transaction() as inner:
        with pytest.raises(ValueError, match="foobar"):
            inner.get("foobar")
        assert outer.get("foobar", 1) == 1


# --- commit modes -----------------------------------------------------------------------------


def test_lazy_children_commit_with_the_outermost() -> None:
    with transaction(key="outer") as outer:
        with transaction(key="inner") as inner:
            pass
        assert inner.commit_mode is CommitMode.LAZY
        assert not inner.is_committed() and not outer.is_committed()
    assert outer.is_committed() and inner.is_committed()


def test_eager_commits_at_its_own_exit_even_under_a_lazy_parent() -> None:
    with transaction(commit_mode=CommitMode.LAZY) as outer:
        with transaction(commit_mode=CommitMode.EAGER) as inner:
            assert not inner.is_committed()
        assert inner.is_committed() and not outer.is_committed()
    assert outer.is_committed()


def test_children_inherit_the_commit_mode() -> None:
    with transaction(commit_mode=CommitMode.EAGER) as outer:
        with transaction() as inner:
            pass
        assert inner.commit_mode is CommitMode.EAGER and inner.is_committed()
    assert outer.is_committed()


@pytest.mark.parametrize(
    ("commit_in_block", "committed"), [(False, False), (True, True)], ids=["left", "committed"]
)
def test_off_rolls_back_what_nobody_committed(commit_in_block: bool, committed: bool) -> None:
    with transaction(commit_mode=CommitMode.OFF) as txn:
        if commit_in_block:
            txn.commit()
    assert txn.is_committed() is committed
    assert txn.is_rolled_back() is not committed


def test_off_never_writes_but_runs_the_rollback_hooks(storage: ResultStorage, key: str) -> None:
    calls: list[str] = []
    with transaction(key=key, store=storage, commit_mode=CommitMode.OFF) as txn:
        txn.stage(
            "v",
            on_commit_hooks=[recorder(calls, "commit")],
            on_rollback_hooks=[recorder(calls, "rollback")],
        )
    assert calls == ["rollback"]
    assert storage.read(key) is None


def test_an_exception_rolls_back_and_is_raised_again() -> None:
    with pytest.raises(ValueError, match="foo"), transaction() as txn:
        raise ValueError("foo")
    assert txn.is_rolled_back() and not txn.is_committed()


def test_an_explicit_rollback_stays_rolled_back() -> None:
    with transaction() as txn:
        txn.rollback()
    assert txn.is_rolled_back() and not txn.is_committed()


# --- rollback -------------------------------------------------------------------------------


def test_a_rollback_propagates_up_to_every_parent() -> None:
    with transaction() as outer:
        with transaction() as inner:
            with transaction() as nested:
                nested.rollback()
            assert inner.is_rolled_back()
    assert outer.is_rolled_back()


def test_rollback_hooks_run_newest_first_and_commit_hooks_not_at_all(
    storage: ResultStorage, key: str
) -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError), transaction(key=key, store=storage) as txn:
        txn.stage(
            1,
            on_rollback_hooks=[recorder(calls, "undo 1"), recorder(calls, "undo 2")],
            on_commit_hooks=[recorder(calls, "commit")],
        )
        txn.stage(2, on_rollback_hooks=[recorder(calls, "undo 3")])
        raise RuntimeError("I left the stove on!")
    assert calls == ["undo 3", "undo 2", "undo 1"]
    assert storage.read(key) is None


def test_children_roll_back_newest_first_after_the_parents_hooks() -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError), transaction() as outer:
        outer.stage(None, on_rollback_hooks=[recorder(calls, "outer")])
        for name in ("first", "second"):
            with transaction() as child:
                child.stage(None, on_rollback_hooks=[recorder(calls, name)])
        raise RuntimeError
    assert calls == ["outer", "second", "first"]


def test_rolling_back_a_committed_transaction_does_nothing() -> None:
    calls: list[str] = []
    with transaction() as txn:
        txn.stage(None, on_rollback_hooks=[recorder(calls, "undo")])
    assert txn.rollback() is False
    assert txn.is_committed() and calls == []


def test_a_failing_child_commit_rolls_the_parent_back(caplog: pytest.LogCaptureFixture) -> None:
    class BadTxn(Transaction):
        def commit(self) -> bool:
            raise ValueError("foo")

    with transaction() as txn:
        txn.add_child(BadTxn())
    assert txn.is_rolled_back() and not txn.is_committed()
    assert "An error was encountered while committing transaction" in caplog.text


# --- the store ------------------------------------------------------------------------------


def test_commit_writes_the_staged_value_under_the_key(storage: ResultStorage, key: str) -> None:
    with transaction(key=key, store=storage) as txn:
        txn.stage({"foo": "bar"})
        assert storage.read(key) is None  # nothing before the commit
    stored = storage.read(key)
    record = txn.read()
    assert stored is not None and record is not None
    assert stored.value == record.value == {"foo": "bar"}
    assert record.location == stored.location == storage.location(key)


def test_stage_writes_the_expiration_with_the_record(storage: ResultStorage, key: str) -> None:
    with transaction(key=key, store=storage) as txn:
        txn.stage("v", expiration=time.time() + 60)
    assert storage.read(key, now=time.time() + 30) is not None
    assert storage.read(key, now=time.time() + 90) is None


def test_a_commit_without_a_staged_value_records_the_key(storage: ResultStorage, key: str) -> None:
    # Prefect's idempotency pattern: `if txn.is_committed(): return` relies on the record.
    with transaction(key=key, store=storage):
        pass
    with transaction(key=key, store=storage) as again:
        assert again.is_committed()
    record = again.read()
    assert record is not None and record.value is None


def test_a_record_makes_the_next_transaction_committed_at_once(
    storage: ResultStorage, key: str
) -> None:
    storage.write(key, "done", None, "test")
    calls: list[str] = []
    with transaction(key=key, store=storage) as txn:
        assert txn.is_committed()
        txn.stage("new", on_commit_hooks=[recorder(calls, "commit")])  # ignored
        record = txn.read()
    assert isinstance(record, Hit) and record.value == "done"
    assert calls == []
    stored = storage.read(key)
    assert stored is not None and stored.value == "done"


def test_overwrite_ignores_the_record_and_replaces_it(storage: ResultStorage, key: str) -> None:
    storage.write(key, "old", None, "test")
    with transaction(key=key, store=storage, overwrite=True) as txn:
        assert not txn.is_committed()
        txn.stage("new")
    stored = storage.read(key)
    assert stored is not None and stored.value == "new"


def test_an_expired_record_does_not_count(storage: ResultStorage, key: str) -> None:
    storage.write(key, "old", time.time() - 1, "test")
    with transaction(key=key, store=storage) as txn:
        assert not txn.is_committed()


def test_a_damaged_record_does_not_count(storage: ResultStorage, key: str) -> None:
    Path(storage.location(key)).parent.mkdir(parents=True)
    Path(storage.location(key)).write_bytes(b"not a result")
    with transaction(key=key, store=storage, overwrite=False) as txn:
        assert not txn.is_committed()
        txn.stage("fresh")
    stored = storage.read(key)
    assert stored is not None and stored.value == "fresh"


def test_write_on_commit_false_commits_without_writing(storage: ResultStorage, key: str) -> None:
    with transaction(key=key, store=storage, write_on_commit=False) as txn:
        txn.stage("v")
    assert txn.is_committed() and storage.read(key) is None


def test_a_lazy_child_is_written_only_when_the_outermost_commits(
    storage: ResultStorage, key: str
) -> None:
    with transaction():
        with transaction(key=key, store=storage) as inner:
            inner.stage("v")
        assert storage.read(key) is None
    stored = storage.read(key)
    assert stored is not None and stored.value == "v"


def test_a_rolled_back_tree_writes_nothing(storage: ResultStorage, key: str) -> None:
    with pytest.raises(RuntimeError), transaction():
        with transaction(key=key, store=storage) as inner:
            inner.stage("v")
        raise RuntimeError
    assert inner.is_rolled_back() and storage.read(key) is None


def test_without_a_key_nothing_is_written_or_read(storage: ResultStorage) -> None:
    with transaction(store=storage) as txn:
        txn.stage("v")
    assert txn.is_committed() and txn.read() is None
    assert not Path(storage.base).exists()


def test_a_key_without_a_store_uses_the_default_storage(tmp_path: Path, key: str) -> None:
    with _settings.override(TASKBOOK_RESULTS_URL=str(tmp_path / "default")):
        with transaction(key=key) as txn:
            txn.stage("v")
        assert isinstance(txn.store, ResultStorage)
        assert txn.store.base == str(tmp_path / "default")
    assert (tmp_path / "default" / key).exists()


def test_an_unpicklable_value_is_logged_and_rolled_back(
    storage: ResultStorage, key: str, logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    with transaction(key=key, store=storage, logger=logger) as txn:
        txn.stage(threading.Lock(), on_rollback_hooks=[recorder(calls, "undo")], label="cell 'x'")
    assert txn.is_rolled_back() and calls == ["undo"]
    assert "cannot be written" in caplog.text and "cell 'x'" in caplog.text
    assert storage.read(key) is None


# --- hooks ----------------------------------------------------------------------------------


def test_commit_hooks_run_in_order_with_the_transaction() -> None:
    seen: list[tuple[str, Transaction]] = []
    with transaction() as txn:
        txn.stage("v", on_commit_hooks=[lambda t: seen.append(("a", t))])
        txn.stage("v", on_commit_hooks=[lambda t: seen.append(("b", t))])
    assert seen == [("a", txn), ("b", txn)]


def test_a_failing_commit_hook_stops_the_commit_and_rolls_back(
    storage: ResultStorage, key: str, logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def boom(txn: Transaction) -> None:
        calls.append("boom")
        raise RuntimeError("hook failed")

    with transaction(key=key, store=storage, logger=logger) as txn:  # no exception escapes
        txn.stage(
            "v",
            on_commit_hooks=[boom, recorder(calls, "after")],
            on_rollback_hooks=[recorder(calls, "undo")],
        )
    assert calls == ["boom", "undo"]
    assert txn.is_rolled_back() and storage.read(key) is None
    assert "An error was encountered while running commit hook 'boom'" in caplog.text
    assert "RuntimeError: hook failed" in caplog.text  # the traceback is logged


def test_a_failing_rollback_hook_is_logged_and_leaves_the_state(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(txn: Transaction) -> None:
        raise RuntimeError("undo failed")

    with pytest.raises(KeyError), transaction(logger=logger) as txn:
        txn.stage("v", on_rollback_hooks=[boom])
        raise KeyError("the original error is the one raised")
    assert txn.is_staged()
    assert "An error was encountered while rolling back transaction" in caplog.text


@pytest.mark.parametrize("log_on_run", [True, False])
def test_hooks_are_logged_unless_they_opt_out(
    log_on_run: bool, logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    hook = recorder(calls, "quiet_hook")
    hook.log_on_run = log_on_run  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO, logger.name)
    with transaction(logger=logger) as txn:
        txn.stage("v", on_commit_hooks=[hook])
    assert calls == ["quiet_hook"]
    assert ("Running commit hook 'quiet_hook'" in caplog.text) is log_on_run


def test_coroutine_hooks_are_run_by_a_sync_transaction() -> None:
    calls: list[str] = []

    async def on_commit(txn: Transaction) -> None:
        await asyncio.sleep(0)
        calls.append("commit")

    async def on_rollback(txn: Transaction) -> None:
        calls.append("rollback")

    with transaction() as txn:
        txn.stage("v", on_commit_hooks=[on_commit])
    with pytest.raises(RuntimeError), transaction() as txn:
        txn.stage("v", on_rollback_hooks=[on_rollback])
        raise RuntimeError("I forgot my keys at home!")
    assert calls == ["commit", "rollback"]


def test_coroutine_hooks_run_from_a_sync_transaction_inside_a_running_loop() -> None:
    # A notebook cell runs inside the kernel's loop, where asyncio.run is refused.
    calls: list[str] = []

    async def on_commit(txn: Transaction) -> None:
        calls.append("commit")

    async def cell() -> None:
        with transaction() as txn:
            txn.stage("v", on_commit_hooks=[on_commit])

    asyncio.run(cell())
    assert calls == ["commit"]


# --- isolation --------------------------------------------------------------------------------


def test_isolation_defaults_to_read_committed_and_is_inherited(
    storage: ResultStorage, key: str
) -> None:
    with transaction(key=key, store=storage) as plain:
        assert plain.isolation_level is IsolationLevel.READ_COMMITTED
    with transaction(key=f"{key}-top", store=storage, isolation_level=SERIALIZABLE) as top:
        with transaction(key=f"{key}-nested", store=storage) as inner:
            assert inner.isolation_level is top.isolation_level is SERIALIZABLE


@pytest.mark.parametrize(
    "store",
    [ResultStorage("memory://results"), ResultStorage("s3://bucket/results")],
    ids=["memory", "s3"],
)
def test_serializable_without_a_lock_manager_is_refused(store: ResultStorage, key: str) -> None:
    with (
        pytest.raises(ConfigurationError, match="not supported.*lock_manager=MemoryLockManager"),
        transaction(key=key, store=store, isolation_level=SERIALIZABLE),
    ):
        pass  # pragma: no cover


def test_read_committed_takes_no_lock(storage: ResultStorage, key: str) -> None:
    locks = lock_manager_for(storage.base)
    assert locks is not None
    with transaction(key=key, store=storage):
        assert not locks.is_locked(key)


def test_serializable_holds_the_default_file_lock_until_the_commit(
    storage: ResultStorage, key: str
) -> None:
    lock_file = Path(storage.base) / ".locks" / f"{key}.lock"
    with transaction(key=key, store=storage, isolation_level=SERIALIZABLE) as txn:
        assert json.loads(lock_file.read_text())["holder"]
        txn.stage("v")
    assert not lock_file.exists()
    with (
        pytest.raises(RuntimeError),
        transaction(key=f"{key}-2", store=storage, isolation_level=SERIALIZABLE),
    ):
        raise RuntimeError
    assert not (lock_file.parent / f"{key}-2.lock").exists()  # released by the rollback


@pytest.mark.parametrize("manager", ["file (default)", "memory"])
def test_serializable_second_thread_waits_and_sees_the_record(
    manager: str, storage: ResultStorage, key: str
) -> None:
    locks = MemoryLockManager() if manager == "memory" else None
    order: list[str] = []
    seen: dict[str, Any] = {}
    first_in, let_first_commit = threading.Event(), threading.Event()

    def first() -> None:
        options = {"store": storage, "isolation_level": SERIALIZABLE, "lock_manager": locks}
        with transaction(key=key, **options) as txn:
            first_in.set()
            let_first_commit.wait(10)
            order.append("first staged")
            txn.stage("first")

    def second() -> None:
        options = {"store": storage, "isolation_level": SERIALIZABLE, "lock_manager": locks}
        with transaction(key=key, **options) as txn:
            order.append("second began")
            seen["committed"] = txn.is_committed()
            record = txn.read()
            seen["value"] = record.value if record else None
            txn.stage("second")

    threads = [start(first)]
    assert first_in.wait(10)
    threads.append(start(second))
    time.sleep(0.3)
    assert order == []  # the second is waiting for the lock
    let_first_commit.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first staged", "second began"]
    assert seen == {"committed": True, "value": "first"}
    stored = storage.read(key)
    assert stored is not None and stored.value == "first"


def test_a_read_committed_read_waits_for_a_serializable_writer(
    storage: ResultStorage, key: str
) -> None:
    writer_in, let_writer_commit = threading.Event(), threading.Event()
    values: list[Any] = []

    def writer() -> None:
        with transaction(key=key, store=storage, isolation_level=SERIALIZABLE) as txn:
            writer_in.set()
            let_writer_commit.wait(10)
            txn.stage({"foo": "bar"})

    def reader() -> None:
        with transaction(key=key, store=storage) as txn:
            assert not txn.is_committed()  # begin() does not wait
            record = txn.read()  # read() does
            values.append(record.value if record else None)

    writing = start(writer)
    assert writer_in.wait(10)
    reading = start(reader)
    reading.join(0.3)
    assert reading.is_alive() and values == []
    let_writer_commit.set()
    reading.join(10)
    writing.join(10)
    assert values == [{"foo": "bar"}]


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from kernel_ext._results import ResultStorage
    from kernel_ext.transactions import IsolationLevel, transaction

    base, key = sys.argv[1:]
    store = ResultStorage(base)
    with transaction(key=key, store=store, isolation_level=IsolationLevel.SERIALIZABLE) as txn:
        print("locked", flush=True)
        time.sleep(1.0)
        txn.stage("from the other process")
    """
)


def test_serializable_file_lock_serialises_two_processes(storage: ResultStorage, key: str) -> None:
    command = [sys.executable, "-c", _OTHER_PROCESS, storage.base, key]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout is not None and other.stdout.readline().strip() == "locked"
        with transaction(key=key, store=storage, isolation_level=SERIALIZABLE) as txn:
            assert txn.is_committed()  # begun only after the other process committed
            record = txn.read()
            assert record is not None and record.value == "from the other process"
    assert other.returncode == 0


# --- the lock managers ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "file"])
def locks(request: pytest.FixtureRequest, tmp_path: Path) -> LockManager:
    if request.param == "memory":
        return MemoryLockManager()
    return FileSystemLockManager(tmp_path / "locks")


def test_locks_are_held_by_one_holder_at_a_time(locks: LockManager, key: str) -> None:
    assert isinstance(locks, LockManager)
    assert locks.acquire_lock(key, "a")
    assert locks.acquire_lock(key, "a")  # its holder may ask again
    assert locks.is_locked(key)
    assert locks.is_lock_holder(key, "a") and not locks.is_lock_holder(key, "b")
    assert not locks.acquire_lock(key, "b", acquire_timeout=0)
    assert not locks.acquire_lock(key, "b", acquire_timeout=0.2)
    with pytest.raises(ValueError, match="No lock held by b"):
        locks.release_lock(key, "b")
    locks.release_lock(key, "a")
    assert not locks.is_locked(key) and locks.acquire_lock(key, "b", acquire_timeout=0)
    locks.release_lock(key, "b")


def test_an_expired_lock_can_be_taken_over(locks: LockManager, key: str) -> None:
    assert locks.acquire_lock(key, "a", hold_timeout=0.2)
    assert not locks.acquire_lock(key, "b", acquire_timeout=0)
    assert locks.acquire_lock(key, "b", acquire_timeout=2)  # once the hold lapses
    assert locks.is_lock_holder(key, "b") and not locks.is_lock_holder(key, "a")
    locks.release_lock(key, "b")


def test_wait_for_lock_times_out_then_sees_the_release(locks: LockManager, key: str) -> None:
    assert locks.wait_for_lock(key, timeout=0)  # free
    locks.acquire_lock(key, "a")
    assert not locks.wait_for_lock(key, timeout=0.1)
    releaser = threading.Timer(0.2, locks.release_lock, args=(key, "a"))
    releaser.start()
    assert locks.wait_for_lock(key, timeout=5)
    releaser.join()


def test_a_waiting_acquirer_gets_the_lock_on_release(locks: LockManager, key: str) -> None:
    locks.acquire_lock(key, "a")
    got: list[bool] = []
    waiter = start(lambda: got.append(locks.acquire_lock(key, "b", acquire_timeout=5)))
    waiter.join(0.2)
    assert got == []
    locks.release_lock(key, "a")
    waiter.join(5)
    assert got == [True] and locks.is_lock_holder(key, "b")
    locks.release_lock(key, "b")


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize(
    ("record", "taken_over"),
    [
        (lambda: {"holder": "x", "expiration": None, "pid": os.getpid()}, False),
        (lambda: {"holder": "x", "expiration": time.time() + 60, "pid": os.getpid()}, False),
        (lambda: {"holder": "x", "expiration": time.time() - 1, "pid": os.getpid()}, True),
        (lambda: {"holder": "x", "expiration": None, "pid": _dead_pid()}, True),
        (
            lambda: {"holder": "x", "expiration": None, "pid": _dead_pid(), "host": "elsewhere"},
            False,
        ),
        (lambda: {"holder": "x", "expiration": None}, False),  # written by another tool
    ],
    ids=["live", "unexpired", "expired", "dead-process", "other-host", "no-pid"],
)
def test_file_locks_of_expired_holders_or_dead_processes_are_taken_over(
    tmp_path: Path, key: str, record: Callable[[], dict[str, Any]], taken_over: bool
) -> None:
    locks = FileSystemLockManager(tmp_path)
    content = {"host": socket.gethostname(), **record()}
    (tmp_path / f"{key}.lock").write_text(json.dumps(content))
    assert locks.acquire_lock(key, "me", acquire_timeout=0) is taken_over
    assert locks.is_locked(key) is True


def test_a_lock_file_holds_holder_expiry_and_process(tmp_path: Path, key: str) -> None:
    locks = FileSystemLockManager(tmp_path)
    locks.acquire_lock(key, "me", hold_timeout=30)
    content = json.loads((tmp_path / f"{key}.lock").read_text())
    assert content["holder"] == "me" and content["pid"] == os.getpid()
    assert time.time() + 25 < content["expiration"] <= time.time() + 30


def test_an_unsafe_key_gets_a_hashed_lock_file(tmp_path: Path) -> None:
    locks = FileSystemLockManager(tmp_path / "locks")
    assert locks.acquire_lock("../escape/key", "me")
    assert [p.parent for p in tmp_path.rglob("*.lock")] == [tmp_path / "locks"]
    assert locks.is_locked("../escape/key") and not locks.is_locked("escape")


def test_a_half_written_lock_file_counts_as_held_until_it_is_old(tmp_path: Path, key: str) -> None:
    locks = FileSystemLockManager(tmp_path)
    path = tmp_path / f"{key}.lock"
    path.write_text("")
    assert locks.is_locked(key) and not locks.acquire_lock(key, "me", acquire_timeout=0)
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert locks.acquire_lock(key, "me", acquire_timeout=0)


@pytest.mark.parametrize(
    ("base", "folder"),
    [
        ("/data/results", "/data/results/.locks"),
        ("file:///data/r", "/data/r/.locks"),
        ("s3://bucket/r", None),
        ("memory://r", None),
    ],
)
def test_the_default_lock_manager_follows_the_storage(base: str, folder: str | None) -> None:
    locks = lock_manager_for(base)
    if folder is None:
        assert locks is None
    else:
        assert isinstance(locks, FileSystemLockManager)
        assert locks.lock_files_directory == Path(folder).resolve()


# --- async ----------------------------------------------------------------------------------


def test_atransaction_nests_commits_and_writes(storage: ResultStorage, key: str) -> None:
    async def main() -> tuple[Transaction, Transaction, Hit | None]:
        async with atransaction() as outer:
            assert get_transaction() is outer
            async with atransaction(key=key, store=storage) as inner:
                assert inner.get_parent() is outer
                inner.stage({"foo": "bar"})
            assert not inner.is_committed()
        assert get_transaction() is None
        return outer, inner, await inner.aread()

    outer, inner, record = asyncio.run(main())
    assert outer.is_committed() and inner.is_committed()
    assert record is not None and record.value == {"foo": "bar"}


def test_atransaction_rolls_back_on_an_exception() -> None:
    calls: list[str] = []

    async def main() -> Transaction:
        with pytest.raises(RuntimeError, match="sump pump"):
            async with atransaction() as txn:
                txn.stage("v", on_rollback_hooks=[recorder(calls, "undo")])
                raise RuntimeError("The sump pump is unplugged!")
        return txn

    assert asyncio.run(main()).is_rolled_back() and calls == ["undo"]


def test_atransaction_awaits_coroutine_hooks_on_the_callers_loop() -> None:
    where: dict[str, Any] = {}

    async def async_hook(txn: Transaction) -> None:
        where["coroutine loop"] = asyncio.get_running_loop()

    def sync_hook(txn: Transaction) -> None:
        where["sync thread"] = threading.get_ident()

    async def main() -> asyncio.AbstractEventLoop:
        async with atransaction() as txn:
            txn.stage("v", on_commit_hooks=[async_hook, sync_hook])
        return asyncio.get_running_loop()

    loop = asyncio.run(main())
    assert where["coroutine loop"] is loop
    assert where["sync thread"] != threading.get_ident()  # sync hooks run off the loop


def test_async_serializable_waits_without_blocking_the_loop(
    storage: ResultStorage, key: str
) -> None:
    async def main() -> list[str]:
        order: list[str] = []
        first_in, let_first_commit = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with atransaction(key=key, store=storage, isolation_level=SERIALIZABLE) as txn:
                first_in.set()
                await let_first_commit.wait()  # needs the loop, which the second must not block
                txn.stage("first")

        async def second() -> None:
            async with atransaction(key=key, store=storage, isolation_level=SERIALIZABLE) as txn:
                order.append(f"second began, committed={txn.is_committed()}")
                txn.stage("second")

        winner = asyncio.create_task(first())
        await first_in.wait()
        loser = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        order.append("releasing")
        let_first_commit.set()
        await asyncio.wait_for(asyncio.gather(winner, loser), 10)
        return order

    assert asyncio.run(main()) == ["releasing", "second began, committed=True"]
    stored = storage.read(key)
    assert stored is not None and stored.value == "first"


def test_a_cancelled_async_waiter_holds_no_lock(storage: ResultStorage, key: str) -> None:
    locks = MemoryLockManager()

    async def main() -> None:
        locks.acquire_lock(key, "someone else")
        waiter = asyncio.create_task(_enter(key, storage, locks))
        await asyncio.sleep(0.2)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        locks.release_lock(key, "someone else")
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert not locks.is_locked(key)


async def _enter(key: str, storage: ResultStorage, locks: LockManager) -> None:
    async with atransaction(
        key=key, store=storage, isolation_level=SERIALIZABLE, lock_manager=locks
    ):
        pass  # pragma: no cover


def test_async_serializable_parent_and_child_in_separate_tasks(
    storage: ResultStorage, key: str
) -> None:
    # Prefect issue 18600: the holder is the transaction's, not the asyncio task's.
    locks = MemoryLockManager()

    async def child() -> None:
        async with atransaction(
            key=f"{key}-child", store=storage, isolation_level=SERIALIZABLE, lock_manager=locks
        ) as txn:
            txn.stage({"foo": "bar"})

    async def parent() -> None:
        async with atransaction(
            key=key, store=storage, isolation_level=SERIALIZABLE, lock_manager=locks
        ):
            await asyncio.create_task(child())

    asyncio.run(parent())
    stored = storage.read(f"{key}-child")
    assert stored is not None and stored.value == {"foo": "bar"}
    assert not locks.is_locked(key) and not locks.is_locked(f"{key}-child")
