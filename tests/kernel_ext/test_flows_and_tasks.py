"""Flows and tasks as a Prefect user calls them, against a real (SQLite) store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kernel_ext import (
    ConfigurationError,
    ParameterValidationError,
    TaskRunFuture,
    flow,
    task,
    unmapped,
    wait,
)
from kernel_ext.cache_policies import INPUTS
from tests.kernel_ext.helpers import last_flow_run, states_of


@task
def add(x: int, y: int = 1) -> int:
    return x + y


def test_calling_a_task_in_a_flow_runs_it_and_records_it(store: Any) -> None:
    @flow
    def pipeline() -> int:
        return add(add(1), 10)

    assert pipeline() == 12
    run = last_flow_run(store)
    assert run["state"] == "Completed"
    assert [t["name"] for t in run["task_runs"]] == ["add-0", "add-1"]
    assert all(t["state"] == "Completed" for t in run["task_runs"])
    assert states_of(store, run["task_runs"][0]["id"]) == ["Pending", "Running", "Completed"]


def test_fn_is_the_plain_function(store: Any) -> None:
    assert add.fn(2, 3) == 5
    assert store.list_flow_runs() == []
    assert store.list_orphan_task_runs(10) == []


def test_task_outside_a_flow_runs_and_is_recorded(store: Any) -> None:
    assert add(41) == 42
    (orphan,) = store.list_orphan_task_runs(10)
    assert orphan["state"] == "Completed" and orphan["name"].startswith("add-")


def test_submit_returns_a_future_and_futures_are_resolved_as_inputs(store: Any) -> None:
    @flow
    def pipeline() -> tuple[Any, int]:
        first = add.submit(1)
        second = add.submit(first, 100)
        return first, second.result()

    state, value = pipeline()
    assert value == 102
    # As in Prefect, a returned future comes back as its task run's final state.
    assert state.is_completed() and state.result() == 2
    run = last_flow_run(store)
    first, second = run["task_runs"]
    assert second["upstream"] == [first["id"]]


def test_futures_inside_containers_are_resolved(store: Any) -> None:
    @task
    def total(values: list[int], extra: dict[str, int]) -> int:
        return sum(values) + sum(extra.values())

    @flow
    def pipeline() -> int:
        a, b = add.submit(1), add.submit(2)
        return total([a, b], {"c": add.submit(3)})

    assert pipeline() == 2 + 3 + 4
    run = last_flow_run(store)
    assert len(run["task_runs"][-1]["upstream"]) == 3


def test_map_maps_iterables_and_broadcasts_unmapped(store: Any) -> None:
    @flow
    def pipeline() -> list[int]:
        return add.map([1, 2, 3], unmapped(10)).result()

    assert pipeline() == [11, 12, 13]
    assert len(last_flow_run(store)["task_runs"]) == 3


def test_map_over_futures_and_static_values(store: Any) -> None:
    @flow
    def pipeline() -> list[int]:
        firsts = add.map(range(3))
        return add.map(firsts, y=5).result()

    assert pipeline() == [6, 7, 8]


def test_map_with_unequal_lengths_says_how_to_fix_it(home: Any) -> None:
    @flow
    def pipeline() -> None:
        add.map([1, 2], [1])

    with pytest.raises(ConfigurationError, match="unmapped"):
        pipeline()


def test_wait_for_orders_runs_and_records_the_edge(store: Any) -> None:
    order: list[str] = []

    @task
    def step(label: str) -> None:
        order.append(label)

    @flow
    def pipeline() -> None:
        first = step.submit("first")
        step.submit("second", wait_for=[first]).wait()

    pipeline()
    assert order == ["first", "second"]
    first, second = last_flow_run(store)["task_runs"]
    assert second["upstream"] == [first["id"]]


def test_return_state(store: Any) -> None:
    @task
    def boom() -> None:
        raise ValueError("no")

    @flow
    def pipeline() -> str:
        return boom(return_state=True).name  # type: ignore[no-any-return]

    assert pipeline() == "Failed"
    assert pipeline(return_state=True).name == "Completed"


def test_a_failed_upstream_stops_the_downstream_run(store: Any) -> None:
    @task
    def boom() -> int:
        raise ValueError("no")

    @flow
    def pipeline() -> None:
        add.submit(boom.submit()).wait()

    pipeline()
    boom_run, add_run = last_flow_run(store)["task_runs"]
    assert boom_run["state"] == "Failed"
    assert add_run["state"] == "Failed"
    assert "Upstream task run 'boom-0'" in store.read_history(add_run["id"])[-1]["message"]


def test_flow_failure_raises_the_original_exception_and_is_recorded(store: Any) -> None:
    @flow
    def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        broken()
    run = last_flow_run(store)
    history = store.read_history(run["id"])
    assert run["state"] == "Failed"
    assert history[-1]["details"]["exception_type"] == "KeyError"
    assert "raise KeyError" in history[-1]["details"]["traceback"]


def test_nested_flows_link_to_the_parent(store: Any) -> None:
    @flow
    def child(x: int) -> int:
        return add(x)

    @flow
    def parent() -> int:
        return child(1) + child(2)

    assert parent() == 5
    runs = store.list_flow_runs()
    parent_run = next(r for r in runs if r["flow_name"] == "parent")
    children = [r for r in runs if r["flow_name"] == "child"]
    assert len(children) == 2
    links = {t["id"] for t in store.read_flow_run(parent_run["id"])["task_runs"]}
    assert {c["parent_task_run_id"] for c in children} == links


def test_async_flows_and_tasks(store: Any) -> None:
    @task
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    @flow
    async def pipeline() -> list[int]:
        first = await double(1)
        mapped = double.map([first, 3]).result()
        return [first, *mapped]

    assert asyncio.run(pipeline()) == [2, 4, 6]
    assert len(last_flow_run(store)["task_runs"]) == 3


def test_flow_parameters_are_validated_and_coerced(store: Any) -> None:
    @flow
    def typed(n: int, label: str = "x") -> tuple[int, str]:
        return n, label

    assert typed("3") == (3, "x")
    assert last_flow_run(store)["parameters"] == {"n": 3, "label": "x"}
    with pytest.raises(ParameterValidationError, match="n: .*integer"):
        typed("three")
    # As in Prefect, a value that does not fit makes a Failed flow run ...
    invalid = last_flow_run(store)
    assert invalid["state"] == "Failed" and invalid["parameters"] == {"n": "three", "label": "x"}
    # ... while a call that does not bind fails before any run exists.
    with pytest.raises(ParameterValidationError, match="unexpected keyword|got an unexpected"):
        typed(1, colour="red")
    assert last_flow_run(store)["id"] == invalid["id"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be a whole number"),
        ({"retries": 2, "retry_delay_seconds": [1, -2]}, "retry_delay_seconds must be numbers"),
        ({"timeout_seconds": 0}, "timeout_seconds must be a number > 0"),
        ({"retry_jitter_factor": -0.5}, "retry_jitter_factor must be >= 0"),
        ({"cache_expiration": -5}, "cache_expiration must be a positive"),
    ],
)
def test_invalid_options_fail_at_decoration_time(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        task(**options)(lambda: None)
    assert "task '<lambda>'" in str(caught.value)


def test_invalid_flow_options_name_the_flow() -> None:
    with pytest.raises(ConfigurationError, match="flow 'f': retries"):
        flow(retries=-2, name="f")(lambda: None)


def test_hooks_run_on_completion_and_failure(store: Any) -> None:
    seen: list[tuple[str, str]] = []

    def hook(tsk: Any, run: Any, state: Any) -> None:
        seen.append((run.name, state.name))

    @task(on_completion=[hook], on_failure=[hook])
    def maybe(fail: bool) -> None:
        if fail:
            raise RuntimeError("x")

    @flow
    def pipeline() -> None:
        maybe(False)
        maybe(True, return_state=True)

    pipeline()
    assert seen == [("maybe-0", "Completed"), ("maybe-1", "Failed")]


def test_wait_and_future_api(home: Any) -> None:
    @flow
    def pipeline() -> list[TaskRunFuture[int]]:
        futures = [add.submit(i) for i in range(5)]
        wait(futures)
        assert all(f.done() and f.state.is_completed() for f in futures)
        return futures

    # As in Prefect, returned futures come back as their task runs' final states.
    assert [state.result() for state in pipeline()] == [1, 2, 3, 4, 5]


def test_bounded_thread_pool(store: Any) -> None:
    import threading
    import time

    from kernel_ext import ThreadPoolTaskRunner

    active, peak = [0], [0]
    lock = threading.Lock()

    @task
    def slow(i: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def pipeline() -> None:
        slow.map(range(8)).result()

    pipeline()
    assert peak[0] == 2


def test_plain_values_from_task_runs_record_edges(store: Any) -> None:
    @task
    def load() -> list[int]:
        return [1, 2, 3]

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    @flow
    def pipeline() -> int:
        values = load()
        doubled = add.map(values, unmapped(0)).result()
        return total(values) + sum(doubled)

    assert pipeline() == 12
    runs = {t["name"]: t for t in last_flow_run(store)["task_runs"]}
    load_id = runs["load-0"]["id"]
    assert runs["total-0"]["upstream"] == [load_id]
    assert all(runs[f"add-{i}"]["upstream"] == [load_id] for i in range(3))


def test_equal_scalars_do_not_make_false_edges(store: Any) -> None:
    @flow
    def pipeline() -> int:
        add(1)  # returns 2
        return add(2)  # a literal 2, not the result above

    pipeline()
    assert all(t["upstream"] == [] for t in last_flow_run(store)["task_runs"])


def test_an_error_inside_the_engine_still_finishes_the_run(store: Any, tmp_path: Any) -> None:
    from kernel_ext._results import ResultStorage

    class Broken(ResultStorage):
        def read(self, key: str, now: float | None = None, serializer: Any = None) -> Any:
            raise RuntimeError("disk on fire")

    @task(cache_policy=INPUTS, result_storage=Broken(str(tmp_path)))
    def keyed(x: int) -> int:
        return x

    @flow
    def pipeline() -> str:
        return keyed.submit(1).result(timeout=10, raise_on_failure=False).__class__.__name__

    assert pipeline() == "RuntimeError"
    (run,) = last_flow_run(store)["task_runs"]
    assert run["state"] == "Failed"


def test_a_cache_key_function_that_raises_is_logged_and_the_run_goes_on(
    store: Any, caplog: Any
) -> None:
    def broken_key(context: Any, parameters: Any) -> str:
        raise KeyError("oops")

    @task(cache_key_fn=broken_key)
    def keyed(x: int) -> int:
        return x

    @flow
    def pipeline() -> int:
        return keyed(1)

    assert pipeline() == 1  # as in Prefect: logged, and run without caching
    assert "no cache key (KeyError" in caplog.text


def test_a_returned_set_of_futures_comes_back_as_their_states(store: Any) -> None:
    @task
    def pair(x: int) -> list[int]:
        return [x, x]

    @flow
    def pipeline() -> Any:
        return {pair.submit(1), pair.submit(2)}

    state = pipeline(return_state=True)
    assert state.name == "Completed" and state.message == "All states completed."
    assert sorted(s.result() for s in state.result()) == [[1, 1], [2, 2]]
    store.flush()
    run = store.read_flow_run(last_flow_run(store)["id"])
    assert [t["state"] for t in run["task_runs"]] == ["Completed", "Completed"]


def test_an_unhashable_callable_task_binds_its_parameter_names() -> None:
    from dataclasses import dataclass

    from kernel_ext._tasks import _bind

    @dataclass  # eq without hash: unhashable
    class Scale:
        factor: int

        def __call__(self, x: int, offset: int = 0) -> int:
            return self.factor * x + offset

    assert _bind(Scale(2), (3,), {}) == {"x": 3, "offset": 0}
    assert _bind(lambda a, b: a, (1, 2), {}) == {"a": 1, "b": 2}
