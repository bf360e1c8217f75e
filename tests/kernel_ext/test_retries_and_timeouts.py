"""Every failure path of a task run: retry then success, exhausted, timeout, conditions."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kernel_ext import TaskRunTimeout, exponential_backoff, flow, task
from kernel_ext._retries import RetryPolicy
from tests.kernel_ext.helpers import last_flow_run, states_of


def flaky_task(failures: int, **options: Any) -> Any:
    calls = {"n": 0}

    @task(**options)
    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionError(f"attempt {calls['n']}")
        return "ok"

    return flaky, calls


def run_in_flow(tsk: Any) -> Any:
    """The final state of one run of ``tsk`` inside a flow."""
    seen: dict[str, Any] = {}

    @flow
    def pipeline() -> None:
        seen["state"] = tsk(return_state=True)

    pipeline()
    return seen["state"]


def test_retry_then_success_records_every_attempt(store: Any) -> None:
    flaky, calls = flaky_task(2, retries=3, retry_delay_seconds=0)
    assert run_in_flow(flaky).result() == "ok"
    assert calls["n"] == 3
    (run,) = last_flow_run(store)["task_runs"]
    assert run["run_count"] == 3
    assert states_of(store, run["id"]) == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


def test_retries_exhausted_fail_with_the_last_error(store: Any) -> None:
    flaky, calls = flaky_task(10, retries=1)
    state = run_in_flow(flaky)
    assert state.name == "Failed"
    with pytest.raises(ConnectionError, match="attempt 2"):
        state.result()
    assert calls["n"] == 2


def test_per_attempt_delays_are_waited(home: Any) -> None:
    flaky, _ = flaky_task(2, retries=2, retry_delay_seconds=[0.1, 0.2])
    started = time.perf_counter()
    run_in_flow(flaky)
    assert time.perf_counter() - started >= 0.3


def test_delay_list_last_value_repeats_and_backoff_doubles() -> None:
    policy = RetryPolicy.build("t", 4, [1, 2], None, None)
    assert [policy.delay_before(n) for n in (1, 2, 3, 4)] == [1, 2, 2, 2]
    backoff = RetryPolicy.build("t", 3, exponential_backoff(10), None, None)
    assert [backoff.delay_before(n) for n in (1, 2, 3)] == [10, 20, 40]


def test_jitter_stays_within_its_factor() -> None:
    policy = RetryPolicy.build("t", 1, 10, 0.5, None)
    delays = {policy.delay_before(1) for _ in range(200)}
    assert min(delays) >= 5 and max(delays) <= 15 and len(delays) > 1


def test_retry_condition_can_refuse_a_retry(store: Any) -> None:
    def only_connection_errors(tsk: Any, run: Any, state: Any) -> bool:
        return state.details["exception_type"] == "ConnectionError"

    calls = {"n": 0}

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def wrong() -> None:
        calls["n"] += 1
        raise ValueError("not retryable")

    assert run_in_flow(wrong).name == "Failed"
    assert calls["n"] == 1


def test_timeout_fails_as_timed_out_and_is_retried(store: Any) -> None:
    calls = {"n": 0}

    @task(timeout_seconds=0.2, retries=1)
    def sleepy() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(5)
        return "awake"

    started = time.perf_counter()
    assert run_in_flow(sleepy).result() == "awake"
    assert time.perf_counter() - started < 2
    (run,) = last_flow_run(store)["task_runs"]
    history = store.read_history(run["id"])
    assert [s["name"] for s in history][-3:] == ["AwaitingRetry", "Retrying", "Completed"]
    assert "TaskRunTimeout" in history[2]["message"]


def test_timeout_without_retries_ends_timed_out(store: Any) -> None:
    @task(timeout_seconds=0.1)
    def sleepy() -> None:
        time.sleep(3)

    state = run_in_flow(sleepy)
    assert state.name == "TimedOut"
    with pytest.raises(TaskRunTimeout):
        state.result()


def test_flow_level_retries(store: Any) -> None:
    calls = {"n": 0}

    @flow(retries=2)
    def shaky() -> int:
        calls["n"] += 1
        if calls["n"] < 2:
            raise RuntimeError("first time")
        return calls["n"]

    assert shaky() == 2
    run = last_flow_run(store)
    assert [s["name"] for s in store.read_history(run["id"])] == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


def test_flow_timeout(store: Any) -> None:
    @flow(timeout_seconds=0.1)
    def slow_flow() -> None:
        time.sleep(3)

    assert slow_flow(return_state=True).name == "TimedOut"
