"""Concurrency and rate limits as users meet them: ``concurrency`` blocks, tagged task
runs and ``rate_limit``, in one process and across four, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kernel_ext import _settings, flow, task
from kernel_ext._errors import ConcurrencySlotTimeout, ConfigurationError
from kernel_ext.concurrency import concurrency, rate_limit, rate_limit_async
from kernel_ext.store import get_store

Span = tuple[float, float]

HOLDER = textwrap.dedent(
    """
    import json, sys, time
    from kernel_ext import flow, task
    from kernel_ext.concurrency import concurrency

    out, mode, rounds, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

    def hold():
        began = time.time()
        time.sleep(0.05)
        return began, time.time()

    @task(tags=["db"])
    def tagged(i):
        return hold()

    @flow
    def tagged_flow():
        return tagged.map(range(rounds)).result()

    time.sleep(max(0.0, start_at - time.time()))  # every process starts at once
    if mode == "block":
        spans = []
        for _ in range(rounds):
            with concurrency("db", strict=True):
                spans.append(hold())
    else:
        spans = tagged_flow()
    json.dump(spans, open(out, "w"))
    """
)

KILLED_HOLDER = textwrap.dedent(
    """
    import os, signal, sys, time
    from kernel_ext.concurrency import concurrency

    lease, hold_for = float(sys.argv[1]), float(sys.argv[2])
    block = concurrency("db", lease_duration=lease, strict=True)
    block.__enter__()
    print("held", flush=True)
    time.sleep(hold_for)
    if hold_for == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # dies holding its slot
    block.__exit__(None, None, None)
    """
)

RATED = textwrap.dedent(
    """
    import json, sys, time
    from kernel_ext.concurrency import rate_limit

    out, start_at = sys.argv[1], float(sys.argv[2])
    time.sleep(max(0.0, start_at - time.time()))
    starts = []
    for _ in range(5):
        rate_limit("api", per_second=20)
        starts.append(time.time())
    json.dump(starts, open(out, "w"))
    """
)


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "TASKBOOK_HOME": str(_settings.home()),
        "TASKBOOK_STORE_URL": _settings.store_url(),
        "TASKBOOK_LOGGING_LEVEL": "WARNING",
    }


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def max_overlap(spans: list[Span]) -> int:
    """How many spans were open at once, at the busiest instant."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    busiest = current = 0
    for _, change in events:
        current += change
        busiest = max(busiest, current)
    return busiest


def test_max_overlap_counts_open_spans() -> None:
    assert max_overlap([(0, 1), (2, 3)]) == 1
    assert max_overlap([(0, 3), (1, 4), (2, 5), (4.5, 6)]) == 3


@pytest.mark.parametrize("mode", ["block", "tag"])
def test_four_processes_never_exceed_a_limit_of_two(home: Path, mode: str) -> None:
    get_store().set_limit("db", 2)
    start_at = time.time() + 2.0
    outs = [home / f"spans-{i}.json" for i in range(4)]
    processes = [_python(HOLDER, str(out), mode, "6", str(start_at)) for out in outs]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    spans = [tuple(span) for out in outs for span in json.loads(out.read_text())]
    assert len(spans) == 24
    assert max_overlap(spans) == 2  # never 3; and the limit did let two run together
    assert get_store().read_limit("db")["used"] == 0  # every slot was given back


def test_a_dead_holders_slot_is_released_when_its_lease_expires(home: Path) -> None:
    get_store().set_limit("db", 1)
    holder = _python(KILLED_HOLDER, "2.0", "0")
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.communicate(timeout=30)
    assert holder.returncode == -9
    with pytest.raises(ConcurrencySlotTimeout, match="taskbook limits show db"):
        with concurrency("db", timeout_seconds=0.3):
            pass  # the slot is still leased to the dead process
    started = time.monotonic()
    with concurrency("db", timeout_seconds=10):
        waited = time.monotonic() - started
    # Within the 2 s lease plus the waiter's polling; a loaded 2-core machine once took
    # 2.9 s. Not waiting at all, or waiting out the 10 s, would both be wrong.
    assert 0.3 < waited < 4.0


def test_a_live_holder_keeps_its_slot_by_renewing_its_lease(home: Path) -> None:
    get_store().set_limit("db", 1)
    holder = _python(KILLED_HOLDER, "0.6", "2.5")  # holds for four lease periods
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(ConcurrencySlotTimeout):
        with concurrency("db", timeout_seconds=1.5):
            pass
    holder.communicate(timeout=30)
    assert holder.returncode == 0
    with concurrency("db", timeout_seconds=0.5):  # given back on exit, not left to expire
        pass


def test_tagged_task_runs_wait_in_awaiting_concurrency_slot(home: Path) -> None:
    get_store().set_limit("db", 2)

    @task(tags=["db", "unlimited-tag"])
    def hold(i: int) -> Span:
        began = time.time()
        time.sleep(0.05)
        return began, time.time()

    @flow
    def fan_out() -> list[Span]:
        return hold.map(range(6)).result()

    spans = fan_out(return_state=True)
    assert max_overlap(spans.result()) == 2
    store = get_store()
    store.flush()
    run = store.list_flow_runs(limit=1)[0]
    histories = [
        [h["name"] for h in store.read_history(t["id"])]
        for t in store.read_flow_run(run["id"])["task_runs"]
    ]
    waited = [h for h in histories if "AwaitingConcurrencySlot" in h]
    assert waited and all(
        h == ["Pending", "AwaitingConcurrencySlot", "Running", "Completed"] for h in waited
    )
    assert len(waited) < 6


def test_a_block_with_several_limits_takes_them_all(home: Path) -> None:
    store = get_store()
    store.set_limit("a", 1)
    store.set_limit("b", 2)
    with concurrency(["a", "b"], occupy=1):
        assert [r["used"] for r in store.list_limits()] == [1, 1]
        with pytest.raises(ConcurrencySlotTimeout):
            with concurrency(["b", "a"], timeout_seconds=0.2):
                pass
        assert [r["used"] for r in store.list_limits()] == [1, 1]  # b was not taken alone
    assert [r["used"] for r in store.list_limits()] == [0, 0]


def test_a_block_can_be_entered_again_and_gives_back_each_entry(home: Path) -> None:
    store = get_store()
    store.set_limit("gpu", 3)
    block = concurrency("gpu")
    with block:
        with block:
            assert store.read_limit("gpu")["used"] == 2
        assert store.read_limit("gpu")["used"] == 1
    assert store.read_limit("gpu")["used"] == 0


def test_a_cancelled_async_wait_takes_no_slot(home: Path) -> None:
    store = get_store()
    store.set_limit("g1", 1)

    async def main() -> None:
        with concurrency("g1"):  # held by this thread while the coroutine waits
            waiter = asyncio.ensure_future(_hold_async("g1"))
            await asyncio.sleep(0.3)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        await asyncio.sleep(1.0)  # the waiting thread sees the cancel, takes nothing

    asyncio.run(main())
    assert store.read_limit("g1")["used"] == 0


def test_many_async_waiters_do_not_starve_the_executor(home: Path) -> None:
    """Waiters hold no thread while they wait: with a two-thread default executor, eight
    blocks on a limit of one all get their turn (the holder can always give back)."""
    from concurrent.futures import ThreadPoolExecutor

    get_store().set_limit("db", 1)
    turns: list[int] = []

    async def block(i: int) -> None:
        async with concurrency("db", timeout_seconds=30):
            turns.append(i)
            await asyncio.sleep(0.02)

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(2))
        await asyncio.wait_for(asyncio.gather(*(block(i) for i in range(8))), 30)

    asyncio.run(main())
    assert sorted(turns) == list(range(8))
    assert get_store().read_limit("db")["used"] == 0


def test_a_rate_wait_that_ends_before_the_timeout_is_not_refused(home: Path) -> None:
    rate_limit("api", per_second=2)  # the next start is due in 0.5 s
    rate_limit("api", per_second=2, timeout_seconds=0.6)
    with pytest.raises(ConcurrencySlotTimeout, match="did not allow a start"):
        rate_limit("api", per_second=2, timeout_seconds=0.2)


async def _hold_async(name: str) -> None:
    async with concurrency(name):
        await asyncio.sleep(10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: concurrency(None), "Limit names"),  # type: ignore[arg-type]
        (lambda: concurrency([]), "Limit names"),
        (lambda: concurrency("db", lease_duration="30").__enter__(), "lease_duration"),  # type: ignore[arg-type]
        (lambda: concurrency("db", timeout_seconds=-1).__enter__(), "timeout_seconds"),
        (lambda: rate_limit("api", per_second="5"), "per_second"),  # type: ignore[arg-type]
        (lambda: rate_limit("api", occupy=1.5, per_second=5), "occupy"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_get_a_message(home: Path, call: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call()


def test_unknown_limits_pass_or_raise_when_strict(home: Path) -> None:
    with concurrency("nobody-set-this"):
        pass
    with pytest.raises(ConfigurationError, match="taskbook limits set nobody-set-this N"):
        with concurrency("nobody-set-this", strict=True):
            pass
    with pytest.raises(ConfigurationError, match="per_second"):
        rate_limit("no-rate", strict=True)


@pytest.mark.parametrize("occupy", [0, -1, 1.5, True])
def test_bad_occupy_is_refused(home: Path, occupy: object) -> None:
    get_store().set_limit("db", 2)
    with pytest.raises(ConfigurationError, match="occupy"):
        with concurrency("db", occupy=occupy):  # type: ignore[arg-type]
            pass


def test_async_blocks_and_rates_do_not_block_the_event_loop(home: Path) -> None:
    get_store().set_limit("db", 1)
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def limited() -> None:
        async with concurrency("db"):
            await rate_limit_async("api", per_second=5)
            await rate_limit_async("api", per_second=5)  # waits ~0.2 s
        async with concurrency("db", timeout_seconds=1):
            pass

    async def main() -> None:
        await asyncio.gather(ticker(), limited())

    asyncio.run(main())
    assert len(ticks) == 5 and ticks[-1] - ticks[0] < 0.2


def test_rate_limit_spaces_starts_across_four_processes(home: Path) -> None:
    start_at = time.time() + 2.0
    outs = [home / f"starts-{i}.json" for i in range(4)]
    processes = [_python(RATED, str(out), str(start_at)) for out in outs]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    starts = sorted(t for out in outs for t in json.loads(out.read_text()))
    assert len(starts) == 20
    # 20 a second, one at a time: any 11 consecutive starts span at least half a second.
    assert min(b - a for a, b in zip(starts, starts[10:], strict=False)) > 0.45
