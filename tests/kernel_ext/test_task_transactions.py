"""Task runs inside transactions: the engine's side (the object itself is tested in
tests/kernel_ext/compat/test_transactions.py)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import flow, task
from kernel_ext.cache_policies import INPUTS
from kernel_ext.testing import taskbook_test_harness
from kernel_ext.transactions import transaction

SERIALIZABLE = INPUTS.configure(isolation_level="SERIALIZABLE")


@pytest.fixture
def home() -> Any:
    with taskbook_test_harness() as path:
        yield path


def test_a_later_failure_rolls_back_the_task_runs_before_it(home: Path) -> None:
    seen: list[str] = []

    @task(on_rollback=[lambda txn: seen.append("undo write")])
    def write() -> str:
        seen.append("write")
        return "written"

    @task
    def check() -> None:
        raise ValueError("bad data")

    @flow
    def pipeline() -> None:
        with transaction():
            write()
            check()

    state = pipeline(return_state=True)
    assert state.is_failed()
    assert seen == ["write", "undo write"]


def test_serializable_runs_with_one_key_do_the_work_once(home: Path) -> None:
    bodies: list[int] = []

    @task(cache_policy=SERIALIZABLE, persist_result=True)
    def slow(x: int) -> int:
        bodies.append(x)
        time.sleep(0.2)
        return x * 10

    names: list[str] = []

    def call() -> None:
        names.append(slow(1, return_state=True).name)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert bodies == [1]
    assert sorted(names) == ["Cached", "Completed"]


def test_async_serializable_runs_do_not_block_the_event_loop(home: Path) -> None:
    bodies: list[int] = []

    @task(cache_policy=SERIALIZABLE, persist_result=True)
    async def slow(x: int) -> int:
        bodies.append(x)
        await asyncio.sleep(0.2)  # the other run waits for the lock meanwhile
        return x * 10

    @flow
    async def pipeline() -> list[Any]:
        return list(await asyncio.gather(slow(2), slow(2)))

    assert asyncio.run(asyncio.wait_for(pipeline(), 20)) == [20, 20]
    assert bodies == [2]


class _Json:
    """A serializer of the user's own (an object with dumps/loads)."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


def test_a_waiting_run_reads_the_record_with_the_task_serializer(home: Path) -> None:
    bodies: list[int] = []

    @task(cache_policy=SERIALIZABLE, result_serializer=_Json())
    def make(x: int) -> dict[str, int]:
        bodies.append(x)
        time.sleep(0.2)  # the other run waits for the key's lock meanwhile
        return {"x": x}

    states: list[Any] = []
    threads = [
        threading.Thread(target=lambda: states.append(make(3, return_state=True))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert bodies == [3]  # the second found the first's record after the lock
    assert sorted(s.name for s in states) == ["Cached", "Completed"]
    assert all(s.result() == {"x": 3} for s in states)


_JOINS = """
import sys
from kernel_ext import flow, task
from kernel_ext.cache_policies import INPUTS
from kernel_ext.testing import taskbook_test_harness

@task(cache_policy=INPUTS, persist_result=True)
def child(x: int) -> int:
    return x

@task(on_rollback=[lambda txn: None])
def parent() -> None:
    child(5)
    raise ValueError("after the child")

@flow
def pipeline() -> None:
    parent()

with taskbook_test_harness():
    assert pipeline(return_state=True).is_failed()
    again = child(5, return_state=True).name
assert "kernel_ext.transactions" not in sys.modules
print(again)
"""


def test_a_task_run_inside_another_task_run_joins_its_transaction() -> None:
    # In a fresh process that never imports kernel_ext.transactions: the parent's own
    # transaction (it has a rollback hook) is the one its child joins, so the child's
    # record is written only if the parent commits. The parent failed: no record.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _JOINS], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "Completed"  # not Cached


def test_hooks_appended_to_the_lists_count(home: Path) -> None:
    seen: list[str] = []

    @task
    def write() -> int:
        return 1

    write.on_commit_hooks.append(lambda txn: seen.append("committed"))
    write.on_completion_hooks.append(lambda task, run, state: seen.append(state.name))
    write()
    write.on_rollback_hooks = [lambda txn: None]  # replaced, as Prefect allows
    assert seen == ["committed", "Completed"]
    assert len(write.on_rollback_hooks) == 1


def test_a_transaction_that_cannot_open_gives_back_its_slot_and_print_capture(
    home: Path,
) -> None:
    import builtins

    from kernel_ext.store import get_store

    get_store().set_limit("scarce", 1)
    original = builtins.print

    @task(
        tags=["scarce"],
        log_prints=True,
        cache_policy=SERIALIZABLE,
        result_storage="memory://nowhere",  # cannot be locked: opening the transaction fails
    )
    def locked(x: int) -> int:
        return x

    state = locked(1, return_state=True)
    assert state.is_failed() and "SERIALIZABLE" in (state.message or "")
    assert builtins.print is original  # the capture was given back
    assert get_store().read_limit("scarce")["leases"] == []  # so was the slot
