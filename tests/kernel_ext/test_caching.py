"""Caching across runs and processes: hits, expiry, refresh, keys, and bad values."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import ResultError, flow, task
from kernel_ext.cache_policies import INPUTS, TASK_SOURCE
from tests.kernel_ext.helpers import last_flow_run

CALLS: list[int] = []


@task(cache_policy=INPUTS + TASK_SOURCE)
def square(x: int) -> int:
    CALLS.append(x)
    return x * x


@flow
def squares(n: int) -> list[int]:
    return [square(i) for i in range(n)]


def test_second_run_is_cached_and_skips_the_body(store: Any) -> None:
    CALLS.clear()
    assert squares(3) == [0, 1, 4]
    assert squares(3) == [0, 1, 4]
    assert CALLS == [0, 1, 2]
    assert {t["state"] for t in last_flow_run(store)["task_runs"]} == {"Cached"}


def test_cache_works_across_processes(home: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from kernel_ext import flow, task
        from kernel_ext.cache_policies import INPUTS, TASK_SOURCE

        @task(cache_policy=INPUTS + TASK_SOURCE)
        def slow_square(x):
            print("BODY RAN", flush=True)
            return x * x

        @flow
        def pipeline():
            return slow_square(7, return_state=True).name

        print(pipeline())
        """
    )
    env = {"TASKBOOK_HOME": str(home), "PATH": "/usr/bin:/bin"}
    path = home / "cached.py"
    path.write_text(script)
    first = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "BODY RAN" in first.stdout and first.stdout.strip().endswith("Completed")
    assert "BODY RAN" not in second.stdout and second.stdout.strip().endswith("Cached")


def test_cache_expiration(home: Any) -> None:
    runs: list[int] = []

    @task(cache_policy=INPUTS, cache_expiration=0.2)
    def stamp(x: int) -> int:
        runs.append(x)
        return x

    @flow
    def pipeline() -> str:
        return stamp(1, return_state=True).name  # type: ignore[no-any-return]

    assert pipeline() == "Completed"
    assert pipeline() == "Cached"
    time.sleep(0.3)
    assert pipeline() == "Completed"
    assert runs == [1, 1]


def test_refresh_cache_recomputes_and_overwrites(home: Any) -> None:
    runs: list[int] = []

    def make(refresh: bool) -> Any:
        @task(cache_key_fn=lambda ctx, params: f"fixed-{params['x']}", refresh_cache=refresh)
        def compute(x: int) -> int:
            runs.append(x)
            return len(runs)

        return compute

    @flow
    def pipeline(refresh: bool) -> int:
        return make(refresh)(5)  # type: ignore[no-any-return]

    assert pipeline(False) == 1
    assert pipeline(False) == 1
    assert pipeline(True) == 2
    assert pipeline(False) == 2


def test_source_change_invalidates(home: Any) -> None:
    @task(cache_policy=TASK_SOURCE)
    def version() -> int:
        return 1

    @flow
    def pipeline(t: Any) -> str:
        return t(return_state=True).name  # type: ignore[no-any-return]

    assert pipeline(version) == "Completed"
    assert pipeline(version) == "Cached"

    @task(cache_policy=TASK_SOURCE)
    def version2() -> int:
        return 2

    assert pipeline(version2) == "Completed"


def test_unhashable_input_names_the_argument_and_suggests_cache_key_fn(
    home: Any, caplog: Any
) -> None:
    @task(cache_policy=INPUTS)
    def use_lock(lock: Any) -> str:
        return "ran"

    @flow
    def pipeline() -> str:
        return use_lock(threading.Lock())

    # As in Prefect, the run goes on without caching; the warning says why and what to do.
    assert pipeline() == "ran"
    assert re.search("input 'lock' of task 'use_lock'.*cache_key_fn", caplog.text)


def test_unpicklable_result_fails_the_task_run_not_the_process(store: Any) -> None:
    @task(persist_result=True)
    def make_lock() -> Any:
        return threading.Lock()

    @flow
    def pipeline() -> str:
        state = make_lock(return_state=True)
        return f"{state.name}: {state.message}"

    summary = pipeline()
    assert summary.startswith("Failed: ResultError")
    assert "persist_result=False" in summary
    with pytest.raises(ResultError):
        make_lock()


def test_results_can_live_at_an_fsspec_url(home: Any) -> None:
    pytest.importorskip("fsspec")
    import fsspec

    folder = f"/taskbook-test-results/{home.name}"

    @task(cache_policy=INPUTS, result_storage=f"memory://{folder}")
    def value(x: int) -> dict[str, int]:
        return {"x": x}

    @flow
    def pipeline() -> str:
        return value(3, return_state=True).name  # type: ignore[no-any-return]

    assert pipeline() == "Completed"
    assert pipeline() == "Cached"
    assert fsspec.filesystem("memory").ls(folder)


def test_results_are_indexed_in_the_store(store: Any) -> None:
    squares(2)
    (task_run, _) = last_flow_run(store)["task_runs"]
    assert task_run["cache_key"]
    assert store.lookup_result(task_run["cache_key"])["location"].startswith(str(store_home(store)))


def store_home(store: Any) -> Path:
    from kernel_ext import _settings

    return Path(_settings.results_url())
