"""Concurrency and rate limits in the store, on SQLite and PostgreSQL: exact counts under
races, all-or-none takes, leases that expire, and GCRA spacing."""

from __future__ import annotations

import threading
import time

import pytest

from kernel_ext._errors import ConfigurationError
from kernel_ext.store import Store


def test_a_limit_is_created_changed_listed_and_deleted(store: Store) -> None:
    created = store.set_limit("openai", 4)
    assert (created["slots"], created["per_second"], created["used"]) == (4, None, 0)
    changed = store.set_limit("openai", 2, per_second=5.0, burst=3)
    assert (changed["slots"], changed["per_second"], changed["burst"]) == (2, 5.0, 3)
    assert changed["created"] == created["created"]
    store.set_limit("search", None, per_second=1.0)
    assert [r["name"] for r in store.list_limits()] == ["openai", "search"]
    assert store.limit_names() == ["openai"]  # only limits with slots bound tags
    assert store.delete_limit("openai") is True
    assert store.delete_limit("openai") is False
    assert [r["name"] for r in store.list_limits()] == ["search"]


@pytest.mark.parametrize(
    ("slots", "per_second", "burst", "message"),
    [
        (None, None, None, "needs a number of slots or a rate"),
        (-1, None, None, "0 or more, got -1"),
        ("4", None, None, "whole number"),
        (2, 0.0, None, "more than 0 per second"),
        (2, "5", None, "a number more than 0"),
        (2, 1.0, 0, "burst of limit"),
    ],
)
def test_bad_limits_are_refused_with_what_to_do(
    store: Store, slots: int | None, per_second: float | None, burst: int | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        store.set_limit("x", slots, per_second, burst)
    assert store.list_limits() == []


def test_slots_are_taken_all_or_none(store: Store) -> None:
    store.set_limit("a", 2)
    store.set_limit("b", 1)
    first, missing, full = store.take_slots(["a", "b", "nope"], 1, "p1", 30)
    assert len(first) == 2 and missing == ["nope"] and full is None
    ids, missing, full = store.take_slots(["a", "b"], 1, "p2", 30)
    assert (ids, full) == ([], "b")
    assert store.read_limit("a")["used"] == 1  # nothing of "a" was taken either
    store.release_leases(first)
    ids, _, full = store.take_slots(["a", "b"], 1, "p2", 30)
    assert full is None and len(ids) == 2
    assert [lease["holder"] for lease in store.read_limit("b")["leases"]] == ["p2"]


def test_asking_for_more_slots_than_the_limit_has_is_an_error(store: Store) -> None:
    store.set_limit("gpu", 2)
    with pytest.raises(ConfigurationError, match="could never be granted"):
        store.take_slots(["gpu"], 3, "me", 30)


def test_an_expired_lease_no_longer_holds_its_slot(store: Store) -> None:
    store.set_limit("db", 1)
    now = time.time()
    (lease,), _, _ = store.take_slots(["db"], 1, "dead", 5, now=now - 10)  # expired 5 s ago
    assert store.read_limit("db")["used"] == 0
    ids, _, full = store.take_slots(["db"], 1, "alive", 30)
    assert full is None and ids
    assert store.renew_leases([lease], 30) == 0  # the dead holder cannot come back
    assert store.renew_leases(ids, 30) == 1


def test_a_reset_gives_back_every_slot(store: Store) -> None:
    store.set_limit("db", 1)
    store.take_slots(["db"], 1, "stuck", 30)
    assert store.reset_limit("db")["used"] == 0
    with pytest.raises(ConfigurationError, match="taskbook limits set nope N"):
        store.reset_limit("nope")


def test_racing_takers_never_exceed_the_limit(store: Store) -> None:
    store.set_limit("db", 3)
    granted: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(5):
            ids, _, full = store.take_slots(["db"], 1, threading.current_thread().name, 30)
            if full is None:
                with lock:
                    granted.extend(ids)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 3
    assert store.read_limit("db")["used"] == 3


def test_rates_space_starts_and_let_a_burst_through(store: Store) -> None:
    assert store.take_rate("api") is None  # no such rate
    waits = [store.take_rate("api", per_second=10.0, burst=3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] is not None and 0.05 < waits[3] <= 0.1
    record = store.read_limit("api")
    assert (record["slots"], record["per_second"], record["burst"]) == (None, 10.0, 3)


def test_a_rate_keeps_the_slots_of_its_limit(store: Store) -> None:
    store.set_limit("openai", 4)
    assert store.take_rate("openai", per_second=2.0) == 0.0
    assert store.read_limit("openai")["slots"] == 4


def test_more_starts_at_once_than_the_burst_is_an_error(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="could never be granted"):
        store.take_rate("x", occupy=2, per_second=5.0)  # burst 1


def test_a_new_rate_cuts_the_backlog_of_the_old_one(store: Store) -> None:
    for _ in range(3):
        store.take_rate("api", per_second=0.01)  # the next start is due in 100 s
    wait = store.take_rate("api", per_second=100.0)
    assert wait is not None and wait <= 0.011  # not 100 s: at most one start at 100/s


def test_callers_that_disagree_on_the_rate_are_still_limited(store: Store) -> None:
    waits = [store.take_rate("api", per_second=5.0 - (i % 2)) for i in range(10)]
    assert sum(1 for w in waits if w == 0.0) <= 2


def test_first_uses_racing_to_create_a_rate_all_succeed(store: Store) -> None:
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            store.take_rate("fresh", per_second=1000.0, burst=8)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r["name"] for r in store.list_limits()] == ["fresh"]


def test_reset_and_delete_run_while_others_take_slots(store: Store) -> None:
    """Reset and delete lock the limit first, as takers do: no deadlock, no lost rows."""
    store.set_limit("db", 2)
    now = time.time()
    store.take_slots(["db"], 1, "dead", 1, now=now - 10)  # an expired lease to clean up
    stop = threading.Event()
    errors: list[BaseException] = []

    def take_and_release() -> None:
        while not stop.is_set():
            try:
                ids, _, _ = store.take_slots(["db"], 1, "busy", 30)
                store.release_leases(ids)
            except BaseException as error:
                errors.append(error)
                return

    threads = [threading.Thread(target=take_and_release) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(10):
        store.reset_limit("db")
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.delete_limit("db") is True
