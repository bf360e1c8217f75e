"""get_store/reset_store: one store per process, following the settings."""

from __future__ import annotations

import threading
from pathlib import Path

from kernel_ext import _settings
from kernel_ext._events import bus
from kernel_ext._states import Completed
from kernel_ext.store import Store, get_store, reset_store
from kernel_ext.testing import taskbook_test_harness
from tests.store.helpers import Runs


def test_the_store_is_shared_and_follows_the_url(tmp_path: Path) -> None:
    with taskbook_test_harness() as home:
        first = get_store()
        assert get_store() is first
        assert first.url == f"sqlite:///{home / 'taskbook.db'}"
        with _settings.override(TASKBOOK_STORE_URL=f"sqlite:///{tmp_path / 'other.db'}"):
            second = get_store()
            assert second is not first
            assert first.closed
        third = get_store()
        assert third is not second and second.closed
        assert third.url == first.url


def test_the_store_receives_the_engines_events(runs: Runs) -> None:
    with taskbook_test_harness():
        store = get_store()
        task = runs.task()
        bus.emit(runs.move(task, Completed()))
        store.flush()
        assert store.read_task_run(task.id)["state"] == "Completed"


def test_reset_closes_and_unsubscribes(runs: Runs) -> None:
    with taskbook_test_harness():
        store = get_store()
        reset_store()
        assert store.closed
        assert store.submit not in bus._subscribers
        bus.emit(runs.move(runs.task(), Completed()))  # goes nowhere, raises nothing
        assert get_store() is not store


def test_a_store_closed_by_hand_is_replaced() -> None:
    with taskbook_test_harness():
        store = get_store()
        store.close()
        assert store.submit not in bus._subscribers
        assert get_store() is not store


def test_concurrent_first_calls_open_one_store() -> None:
    with taskbook_test_harness():
        reset_store()
        barrier = threading.Barrier(8)
        seen: list[Store] = []

        def call() -> None:
            barrier.wait()
            seen.append(get_store())

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(s) for s in seen}) == 1
        assert sum(1 for s in bus._subscribers if s == seen[0].submit) == 1
