"""Pruning and the cache: a cached result that a later run can still hit stays, with its
file, when the run that made it is pruned; once its cache expires, a prune removes it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from kernel_ext import flow, task
from kernel_ext.cache_policies import INPUTS
from kernel_ext.testing import taskbook_test_harness


def test_a_live_cache_survives_the_prune_of_the_run_that_filled_it(store_url: str) -> None:
    calls: list[int] = []

    @task(persist_result=True, cache_policy=INPUTS, cache_expiration=timedelta(days=30))
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def compute() -> int:
        return square(4)

    with taskbook_test_harness(store_url=store_url) as home:
        from kernel_ext.store import get_store

        assert compute() == 16 and compute() == 16
        assert calls == [4]
        files = sorted(p for p in (home / "results").rglob("*") if p.is_file())
        assert files
        report = get_store().prune_runs(60, now=time.time() + 3600)  # both runs are old
        assert report["flow_runs"] == 2
        assert all(f.exists() for f in files)  # the cache still holds: its file stays
        assert compute() == 16
        assert calls == [4]  # a cache hit after the prune


def test_a_kept_cache_goes_with_a_prune_once_it_expired(store_url: str) -> None:
    @task(persist_result=True, cache_policy=INPUTS, cache_expiration=timedelta(seconds=1))
    def square(x: int) -> int:
        return x * x

    @flow
    def compute() -> int:
        return square(5)

    with taskbook_test_harness(store_url=store_url) as home:
        from kernel_ext.store import get_store

        assert compute() == 25
        files = [p for p in Path(home / "results").rglob("*") if p.is_file()]
        get_store().prune_runs(60, now=time.time() + 3600)
        assert all(f.exists() for f in files)  # not expired yet at the prune
        time.sleep(1.5)
        for old in files:  # past the guard for files just written (a writer's may be queued)
            os.utime(old, (time.time() - 3600, time.time() - 3600))
        get_store().prune_runs(60, now=time.time() + 3600)
        assert not any(f.exists() for f in files)
