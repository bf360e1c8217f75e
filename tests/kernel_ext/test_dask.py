"""The Dask task runner on a real ``distributed.LocalCluster`` (worker processes).

One cluster (2 worker processes) serves the module, to keep it fast; one test lets the
runner start its own. Tasks are module-level: workers unpickle them, and the classes they
use (``Boom``) by reference, so workers import this module (``tests`` is a package and
the rootdir is on ``sys.path``, which spawned workers inherit). Workers are other
processes, so task bodies count their calls in files under the harness's home.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kernel_ext import (
    ConfigurationError,
    TaskRunTimeout,
    ThreadPoolTaskRunner,
    as_completed,
    flow,
    get_run_logger,
    task,
    unmapped,
)
from kernel_ext._context import current_flow_run
from kernel_ext._states import State
from kernel_ext.cache_policies import INPUTS
from kernel_ext.dask import DaskTaskRunner
from kernel_ext.dask._future import DaskTaskRunFuture
from kernel_ext.store import get_store
from tests.kernel_ext.helpers import states_of

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


# --- tasks (module-level: workers import them) -----------------------------------------


class Boom(Exception):
    """Raised on a worker; the driver must get this very type back."""


class NeedsTwo(Exception):
    """Pickles, but cannot be unpickled: ``__init__`` does not take its message."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what} failed: {why}")


def attempt(counter: str) -> int:
    """Record one call in the file ``counter``; the number of calls so far."""
    with open(counter, "a") as handle:
        handle.write(f"{time.time()}\n")
    return len(Path(counter).read_text().splitlines())


def call_times(counter: Path) -> list[float]:
    return [float(line) for line in counter.read_text().splitlines()] if counter.exists() else []


@task
def where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@task
def square(x: int) -> int:
    return x * x


@task
def add_all(values: list[int], extra: dict[str, int]) -> int:
    return sum(values) + sum(extra.values())


@task
def boom(message: str = "no") -> int:
    raise Boom(message)


@task(retries=2, retry_delay_seconds=0)
def flaky(counter: str, failures: int) -> str:
    n = attempt(counter)
    if n <= failures:
        raise Boom(f"attempt {n}")
    return f"ok after {n}"


@task(cache_policy=INPUTS)
def cached_square(x: int, counter: str) -> int:
    attempt(counter)
    return x * x


@task
def chatty(i: int) -> None:
    get_run_logger().info(f"logged {i}")
    print(f"printed {i}")


_KEEP: list[Any] = []  # keeps every array seen alive, so an id is never reused


@task
def identify(i: int, array: Any) -> tuple[int, int]:
    _KEEP.append(array)
    return os.getpid(), id(array)


@task
def total(values: Any, i: int) -> float:
    return float(values.sum()) + i


@task
def produce() -> Any:
    return np.arange(1000.0)


@task
def picky(x: int) -> int:
    if x < 0:
        raise NeedsTwo("picky", "negative")
    return x


@task
def unsendable(x: int) -> Any:
    return threading.Lock() if x else x


@task
def die() -> None:
    os._exit(3)  # the worker process, not an exception


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task(timeout_seconds=0.5)
def sleepy() -> str:
    for _ in range(100):  # short sleeps, so the timeout's async exception ends it soon
        time.sleep(0.05)
    return "woke up"


@task
async def async_square(x: int) -> tuple[int, int]:
    await asyncio.sleep(0.01)
    return x * x, os.getpid()


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        dashboard_address=None,
        # No HTTP on the default port 8787 either: another cluster may hold it.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as local:
        yield local


@pytest.fixture(scope="module")
def worker_pids(cluster: Any) -> set[int]:
    with distributed.Client(cluster.scheduler_address) as client:
        return set(client.run(os.getpid).values())


@pytest.fixture
def runner(cluster: Any) -> DaskTaskRunner:
    return DaskTaskRunner(address=cluster.scheduler_address)


def on(runner: Any, body: Callable[..., Any], **options: Any) -> Any:
    """``body`` as a flow on ``runner``."""
    return flow(task_runner=runner, **options)(body)


def this_flow_run() -> str:
    context = current_flow_run()
    assert context is not None
    return context.flow_run.id


def caught(call: Callable[[], Any]) -> BaseException | None:
    """What ``call()`` raised, if anything."""
    try:
        call()
    except BaseException as error:
        return error
    return None


def task_runs(flow_run_id: str) -> list[dict[str, Any]]:
    store = get_store()
    store.flush()
    return store.read_flow_run(flow_run_id)["task_runs"]  # type: ignore[no-any-return]


# --- map, states, workers ----------------------------------------------------------------


def test_map_runs_on_workers_and_records_every_run_under_the_flow_run(
    home: Path, runner: DaskTaskRunner, worker_pids: set[int]
) -> None:
    def fan_out(n: int) -> tuple[str, list[tuple[int, int]]]:
        return this_flow_run(), where.map(range(n)).result()

    flow_run_id, results = on(runner, fan_out)(12)
    assert [value for value, _ in results] == [i * i for i in range(12)]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids and pids <= worker_pids
    runs = task_runs(flow_run_id)
    assert [r["name"] for r in runs] == [f"where-{i}" for i in range(12)]
    assert {(r["flow_run_id"], r["state"], r["run_count"]) for r in runs} == {
        (flow_run_id, "Completed", 1)
    }
    store = get_store()
    for run in runs:
        assert states_of(store, run["id"]) == ["Pending", "Running", "Completed"]
    assert store.read_flow_run(flow_run_id)["state"] == "Completed"


def test_without_an_address_the_runner_starts_and_closes_its_own_cluster(
    taskbook_harness: Path, cluster: Any
) -> None:
    # The module's cluster already holds port 8787 (its scheduler serves HTTP there even
    # with dashboard_address=None): the runner's own cluster must neither take nor warn
    # about it (warnings are errors here).
    seen: dict[str, Any] = {}
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1})

    def own() -> list[tuple[int, int]]:
        context = current_flow_run()
        assert context is not None
        running: Any = context.task_runner  # this flow run's copy of ``runner``
        seen["runner"], seen["cluster"] = running, running._cluster
        seen["address"] = running.client.scheduler.address
        seen["workers"] = len(running.client.scheduler_info()["workers"])
        return where.map([1, 2, 3]).result()

    results = on(runner, own)()
    assert [value for value, _ in results] == [1, 4, 9]
    assert os.getpid() not in {pid for _, pid in results}
    assert seen["workers"] == 1 and seen["address"] != cluster.scheduler_address
    assert seen["runner"].client is None  # closed with the flow run, and so is its cluster
    assert seen["cluster"].status == distributed.core.Status.closed


def test_submit_passes_futures_between_workers_and_records_edges(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    def chain() -> tuple[str, int]:
        first = square.submit(3)
        second = square.submit(first)
        return this_flow_run(), second.result()

    flow_run_id, value = on(runner, chain)()
    assert value == 81
    first, second = task_runs(flow_run_id)
    assert second["upstream"] == [first["id"]]


def test_async_tasks_run_on_workers(taskbook_harness: Path, runner: DaskTaskRunner) -> None:
    async def mixed() -> tuple[str, Any, Any]:  # an async flow too: the client blocks in it
        return (
            this_flow_run(),
            async_square.map([1, 2, 3]).result(),
            async_square.submit(4).result(),
        )

    flow_run_id, mapped, single = asyncio.run(on(runner, mixed)())
    assert [v for v, _ in mapped] == [1, 4, 9] and single[0] == 16
    assert os.getpid() not in {pid for _, pid in (*mapped, single)}
    assert {r["state"] for r in task_runs(flow_run_id)} == {"Completed"}


# --- retries and timeouts ----------------------------------------------------------------


def test_a_flow_retry_gets_a_fresh_runner_on_the_same_cluster(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    attempts: list[str] = []

    def pipeline() -> tuple[str, int]:
        attempts.append(this_flow_run())
        value = square.submit(len(attempts) + 1).result()
        if len(attempts) == 1:
            raise Boom("first attempt")
        return this_flow_run(), value

    flow_run_id, value = on(runner, pipeline, retries=1)()
    assert value == 9 and attempts == [flow_run_id, flow_run_id]
    assert [r["state"] for r in task_runs(flow_run_id)] == ["Completed", "Completed"]
    assert states_of(get_store(), flow_run_id) == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


RETRIES = [
    # failures, retries, delay, final state, run_count, history
    (1, 2, 0.6, "Completed", 2, ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]),
    (
        2,
        2,
        0,
        "Completed",
        3,
        [
            "Pending",
            "Running",
            "AwaitingRetry",
            "Retrying",
            "AwaitingRetry",
            "Retrying",
            "Completed",
        ],
    ),
    (5, 1, 0, "Failed", 2, ["Pending", "Running", "AwaitingRetry", "Retrying", "Failed"]),
]


@pytest.mark.parametrize(("failures", "retries", "delay", "final", "count", "history"), RETRIES)
def test_retries_on_workers(
    taskbook_harness: Path,
    runner: DaskTaskRunner,
    failures: int,
    retries: int,
    delay: float,
    final: str,
    count: int,
    history: list[str],
) -> None:
    counter = taskbook_harness / "attempts"
    retried = flaky.with_options(retries=retries, retry_delay_seconds=delay)

    seen: dict[str, Any] = {}

    def pipeline() -> str:
        future = retried.submit(str(counter), failures)
        seen["error"] = caught(future.result)
        seen["state"] = future.state  # a flow that returns a state takes its outcome
        return this_flow_run()

    flow_run_id = on(runner, pipeline)()
    state, error = seen["state"], seen["error"]
    (run,) = task_runs(flow_run_id)
    assert (state.name, run["state"], run["run_count"]) == (final, final, count)
    assert states_of(get_store(), run["id"]) == history
    times = call_times(counter)
    assert len(times) == count
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(delay - 0.05 <= gap < delay + 2 for gap in gaps), gaps
    if final == "Failed":
        assert isinstance(error, Boom) and str(error) == f"attempt {count}"
        assert run["state_message"] == f"Boom: attempt {count}"
    else:
        assert error is None and state.result() == f"ok after {count}"


def test_timeout_on_a_worker_ends_timed_out(taskbook_harness: Path, runner: DaskTaskRunner) -> None:
    seen: dict[str, Any] = {}

    def pipeline() -> str:
        future = sleepy.submit()
        seen["early"] = caught(lambda: future.result(timeout=0.05))
        future.wait()
        seen["state"] = future.state
        return this_flow_run()

    started = time.monotonic()
    flow_run_id = on(runner, pipeline)()
    state = seen["state"]
    assert isinstance(seen["early"], TimeoutError)
    assert time.monotonic() - started < 4
    assert state.name == "TimedOut"
    with pytest.raises(TaskRunTimeout, match="timeout of 0.5 s"):
        state.result()
    (run,) = task_runs(flow_run_id)
    assert run["state"] == "TimedOut"


# --- failures ------------------------------------------------------------------------------


def test_a_failed_upstream_future_stops_the_downstream_run(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    seen: dict[str, Any] = {}

    def pipeline() -> str:
        upstream = boom.submit("bad input")
        downstream = square.submit(upstream)
        downstream.wait()
        seen["state"], seen["error"] = downstream.state, caught(upstream.result)
        return this_flow_run()

    flow_run_id = on(runner, pipeline)()
    state, error = seen["state"], seen["error"]
    assert type(error) is Boom and str(error) == "bad input"
    assert state.name == "Failed" and "did not start" in (state.message or "")
    up, down = task_runs(flow_run_id)
    assert (up["state"], down["state"]) == ("Failed", "Failed")
    assert down["upstream"] == [up["id"]]
    assert "Upstream task run 'boom-0' ended Failed" in (down["state_message"] or "")
    assert states_of(get_store(), down["id"]) == ["Pending", "Failed"]


def returns_a_failed_future() -> Any:
    return boom.submit()


def ignores_a_failed_future() -> int:
    boom.submit()
    return 1


def asks_a_failed_future_for_its_result() -> Any:
    return boom.submit().result()


def returns_mapped_futures() -> Any:
    return square.map([1, 2, 3])


def returns_a_list_with_a_failed_future() -> Any:
    return [square.submit(2), boom.submit("in a list")]


def passes_a_value_on() -> Any:
    values = produce.submit().result()  # a value, not a future: the edge is by identity
    return total.submit(values, 1).result()


def maps_over_a_value() -> Any:
    return square.map(numbers.submit(3).result()).result()


def passes_a_failed_future_to_a_map() -> Any:
    return square.map([square.submit(1), boom.submit()])


def passes_futures_inside_containers() -> Any:
    return add_all.submit([square.submit(1), square.submit(2)], {"c": square.submit(3)})


def waits_for_futures() -> Any:
    first = square.submit(1)
    return square.map([2, 3], wait_for=[first, square.submit(4)])


def maps_over_nothing() -> Any:
    return square.map([]).result()


def waits_for_a_failed_future() -> Any:
    return square.submit(2, wait_for=[boom.submit("waited for")])


@pytest.mark.parametrize(
    "body",
    [
        returns_a_failed_future,
        ignores_a_failed_future,
        asks_a_failed_future_for_its_result,
        returns_mapped_futures,
        returns_a_list_with_a_failed_future,
        passes_a_value_on,
        maps_over_a_value,
        passes_a_failed_future_to_a_map,
        passes_futures_inside_containers,
        waits_for_futures,
        waits_for_a_failed_future,
        maps_over_nothing,
    ],
)
def test_flow_and_task_run_states_match_the_thread_runner(
    taskbook_harness: Path, runner: DaskTaskRunner, body: Callable[[], Any]
) -> None:
    def outcome(task_runner: Any) -> tuple[Any, ...]:
        def pipeline() -> Any:
            seen["id"] = this_flow_run()
            return body()

        seen: dict[str, str] = {}
        state = on(task_runner, pipeline, name=body.__name__)(return_state=True)
        value = state.result(raise_on_failure=False)
        runs = task_runs(seen["id"])
        index = {r["id"]: r["name"] for r in runs}
        graph = [
            (r["name"], r["state"], r["state_message"], [index[u] for u in r["upstream"]])
            for r in runs
        ]
        return state.name, state.message, _shown(value), graph

    assert outcome(runner) == outcome(ThreadPoolTaskRunner())


def _shown(value: Any) -> Any:
    """A comparable picture of a flow's outcome: returned futures come back as states."""
    if isinstance(value, BaseException):
        return type(value).__name__
    if isinstance(value, State):
        return (value.name, _shown(value.result(raise_on_failure=False)))
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return value


def test_a_task_run_whose_worker_dies_is_crashed(taskbook_harness: Path) -> None:
    # Its own cluster: a dying worker must not disturb the others' tests, and the
    # scheduler must give up at once instead of retrying on the next worker.
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1})
    seen: dict[str, Any] = {}

    def pipeline() -> str:
        future = die.submit()
        future.wait()
        seen["state"] = future.state
        seen["error"] = caught(future.result)
        return this_flow_run()

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        flow_run_id = on(runner, pipeline)()
    state = seen["state"]
    assert state.name == "Crashed" and "lost this task run" in (state.message or "")
    assert isinstance(seen["error"], distributed.KilledWorker)
    (run,) = task_runs(flow_run_id)
    assert run["state"] == "Crashed"
    assert states_of(get_store(), run["id"])[-1] == "Crashed"


def test_an_exception_that_cannot_travel_still_fails_the_run_not_the_fetch(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    seen: dict[str, Any] = {}

    def pipeline() -> str:
        seen["error"] = caught(picky.map([1, -1]).result)
        return this_flow_run()

    flow_run_id = on(runner, pipeline)()
    error = seen["error"]
    assert type(error) is RuntimeError
    assert str(error).startswith("NeedsTwo: picky failed: negative")
    ok, bad = task_runs(flow_run_id)
    assert (ok["state"], bad["state"]) == ("Completed", "Failed")
    assert get_store().read_history(bad["id"])[-1]["details"]["exception_type"] == "NeedsTwo"


def test_a_result_that_cannot_travel_crashes_only_its_own_run(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    seen: dict[str, Any] = {}

    def pipeline() -> str:
        futures = unsendable.map([0, 1])
        seen["values"] = futures.result(raise_on_failure=False)
        seen["states"] = [f.state for f in futures]
        return this_flow_run()

    flow_run_id = on(runner, pipeline)()
    assert seen["values"][0] == 0
    ok, bad = seen["states"]
    assert (ok.name, bad.name) == ("Completed", "Crashed")
    assert "could not send back its outcome" in (bad.message or "")
    runs = task_runs(flow_run_id)
    assert [r["state"] for r in runs] == ["Completed", "Crashed"]
    # The worker wrote Completed; the driver's Crashed comes after it, not before.
    assert states_of(get_store(), runs[1]["id"]) == ["Pending", "Running", "Completed", "Crashed"]
    # The driver's Crashed keeps what the worker recorded of the run.
    assert runs[1]["run_count"] == 1 and runs[1]["start_time"] is not None


# --- caching and logs ----------------------------------------------------------------------


def test_cached_results_on_workers_skip_the_body_in_the_next_flow_run(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    counter = taskbook_harness / "calls"

    def pipeline() -> tuple[str, list[int]]:
        return this_flow_run(), cached_square.map([1, 2, 3], unmapped(str(counter))).result()

    first_id, first = on(runner, pipeline)()
    second_id, second = on(runner, pipeline)()
    assert first == second == [1, 4, 9]
    assert len(call_times(counter)) == 3
    assert [r["state"] for r in task_runs(first_id)] == ["Completed"] * 3
    assert [r["state"] for r in task_runs(second_id)] == ["Cached"] * 3


def test_logs_and_prints_of_tasks_on_workers_are_stored_with_their_task_run(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    def pipeline() -> str:
        chatty.map(range(3)).wait()
        return this_flow_run()

    flow_run_id = on(runner, pipeline, log_prints=True)()
    ids = {r["name"]: r["id"] for r in task_runs(flow_run_id)}
    logs = get_store().read_logs(flow_run_id)
    found = {(e["message"], e["task_run_id"], e["flow_run_id"]) for e in logs}
    for i in range(3):
        assert (f"logged {i}", ids[f"chatty-{i}"], flow_run_id) in found
        assert (f"printed {i}", ids[f"chatty-{i}"], flow_run_id) in found


# --- data stays on the cluster --------------------------------------------------------------


def test_a_large_unmapped_input_is_sent_once_per_worker_not_once_per_task(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    array = np.ones(1 << 20)  # 8 MiB

    def pipeline() -> list[tuple[int, int]]:
        mapped = identify.map(range(20), unmapped(array)).result()
        return mapped + [identify.submit(i, array).result() for i in range(4)]

    results = on(runner, pipeline)()
    assert len(results) == 24
    ids_by_pid: dict[int, set[int]] = {}
    for pid, array_id in results:
        ids_by_pid.setdefault(pid, set()).add(array_id)
    # A worker holds one copy at a time; Dask's memory manager may drop a worker's extra
    # replica between the map and the submits, so that worker fetches it once more. Sent
    # per task, each worker would hold about a dozen.
    assert all(len(ids) <= 2 for ids in ids_by_pid.values()), ids_by_pid


def test_a_future_passed_to_many_tasks_is_not_fetched_to_the_driver(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    seen: dict[str, Any] = {}

    def pipeline() -> list[float]:
        upstream = produce.submit()
        downstream = total.map(unmapped(upstream), range(5))
        downstream.wait()
        seen["final"] = upstream._final
        seen["type"] = type(upstream)
        return downstream.result()

    assert on(runner, pipeline)() == [float(np.arange(1000.0).sum()) + i for i in range(5)]
    assert seen["type"] is DaskTaskRunFuture
    assert seen["final"] is None


def test_map_result_fetches_every_outcome_in_one_gather(
    taskbook_harness: Path, runner: DaskTaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    gathered: list[int] = []
    single: list[str] = []
    gather, result = distributed.Client.gather, distributed.Future.result

    def counting_gather(self: Any, futures: Any, *args: Any, **kwargs: Any) -> Any:
        gathered.append(len(futures))
        return gather(self, futures, *args, **kwargs)

    def counting_result(self: Any, *args: Any, **kwargs: Any) -> Any:
        single.append(self.key)
        return result(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "gather", counting_gather)
    monkeypatch.setattr(distributed.Future, "result", counting_result)

    def pipeline() -> list[int]:
        return square.map(range(10)).result()

    assert on(runner, pipeline)() == [i * i for i in range(10)]
    assert gathered == [10] and single == []


def test_as_completed_yields_every_dask_future(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    def pipeline() -> list[int]:
        return sorted(f.result() for f in as_completed(square.map(range(6))))

    assert on(runner, pipeline)() == [i * i for i in range(6)]


# --- configuration ---------------------------------------------------------------------------


def test_without_distributed_creating_the_runner_says_how_to_install_it() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["distributed"] = None
        import kernel_ext.dask
        from kernel_ext import ConfigurationError
        imported = "dask" in sys.modules
        try:
            kernel_ext.dask.DaskTaskRunner()
        except ConfigurationError as error:
            print(json.dumps([imported, str(error)]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    imported, message = json.loads(done.stdout)
    assert imported is False
    assert "pip install 'taskbook[dask]'" in message


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_class="x.Y"),
            "not both",
        ),
        (lambda: DaskTaskRunner(cluster_class="no.such.Cluster").__enter__(), "cannot be imported"),
        (lambda: DaskTaskRunner(address="tcp://192.0.2.1:8786").__enter__(), "PostgreSQL"),
        (lambda: DaskTaskRunner().submit(lambda: None), "task.submit"),
    ],
)
def test_configuration_errors(taskbook_harness: Path, make: Callable[[], Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        make()


def test_the_live_graph_draws_task_runs_that_ran_on_workers(
    taskbook_harness: Path, runner: DaskTaskRunner
) -> None:
    pytest.importorskip("anywidget")
    from kernel_ext.widgets import RunGraph

    graph = RunGraph.for_next_flow_run(interval=0.05)
    payloads: list[dict[str, Any]] = []
    graph.observe(lambda change: payloads.append(change["new"]), names="graph")

    def pipeline() -> int:
        return sum(square.map(range(30)).result())

    assert on(runner, pipeline)() == sum(x * x for x in range(30))
    final = graph.graph
    assert final["final"] is True and final["task_runs"] == 30
    (group,) = final["nodes"]  # more than 20 runs of one task: one group node
    assert (group["name"], group["count"], group["done"]) == ("square", 30, 30)
    assert group["counts"] == {"Completed": 30}
    # Before the end the map was already drawn, from the driver's announcement.
    assert any(p["task_runs"] == 30 and not p["final"] for p in payloads)
