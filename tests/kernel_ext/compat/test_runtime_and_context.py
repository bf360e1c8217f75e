"""``kernel_ext.runtime``, ``kernel_ext.context``, ``tags()`` and the annotations, against
Prefect 3's behaviour (``src/prefect/runtime/*.py``, ``context.py``,
``utilities/annotations.py``; observed values noted where Prefect's code is not enough)."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import _annotations, _mapping, flow, runtime, task
from kernel_ext._annotations import BaseAnnotation, allow_failure, opaque, quote, unmapped
from kernel_ext._context import set_ambient_flow_run
from kernel_ext._errors import MissingContextError, TaskbookError
from kernel_ext._tags import current_tags
from kernel_ext.context import FlowRunContext, TaskRunContext, get_run_context, tags
from kernel_ext.testing import taskbook_test_harness


@pytest.fixture(autouse=True)
def no_run_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No worker's run id and no overrides leak in from the environment."""
    monkeypatch.delenv("TASKBOOK_FLOW_RUN_ID", raising=False)
    for key in list(os.environ):
        if key.startswith("TASKBOOK__RUNTIME__"):
            monkeypatch.delenv(key)


@pytest.fixture
def home() -> Iterator[Path]:
    """A throwaway data directory with a SQLite store (these tests are about contexts)."""
    with taskbook_test_harness() as path:
        yield path


@pytest.fixture
def store(home: Path) -> Any:
    from kernel_ext.store import get_store

    return get_store()


# --- outside any run ------------------------------------------------------------------

EMPTY: list[tuple[Any, str, Any]] = [
    (runtime.flow_run, "id", None),
    (runtime.flow_run, "name", None),
    (runtime.flow_run, "flow_name", None),
    (runtime.flow_run, "flow_version", None),
    (runtime.flow_run, "parameters", {}),
    (runtime.flow_run, "tags", []),
    (runtime.flow_run, "run_count", 0),
    (runtime.flow_run, "parent_flow_run_id", None),
    (runtime.flow_run, "parent_deployment_id", None),
    (runtime.flow_run, "root_flow_run_id", None),
    (runtime.flow_run, "job_variables", None),
    (runtime.flow_run, "api_url", None),
    (runtime.flow_run, "ui_url", None),
    (runtime.task_run, "id", None),
    (runtime.task_run, "name", None),
    (runtime.task_run, "task_name", None),
    (runtime.task_run, "tags", []),
    (runtime.task_run, "run_count", 0),
    (runtime.task_run, "parameters", {}),
    (runtime.task_run, "api_url", None),
    (runtime.task_run, "ui_url", None),
    (runtime.deployment, "id", None),
    (runtime.deployment, "name", None),
    (runtime.deployment, "version", None),
    (runtime.deployment, "flow_run_id", None),
    (runtime.deployment, "parameters", {}),
]


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    EMPTY,
    ids=[f"{m.__name__.rpartition('.')[2]}.{n}" for m, n, _ in EMPTY],
)
def test_outside_any_run_attributes_are_empty(module: Any, name: str, expected: Any) -> None:
    value = getattr(module, name)
    assert value == expected and type(value) is type(expected)


def test_outside_any_run_the_scheduled_start_is_now() -> None:
    value = runtime.flow_run.scheduled_start_time
    assert value.tzinfo is not None
    assert abs(value - datetime.now(UTC)) < timedelta(seconds=5)


def test_every_field_is_listed_and_resolves() -> None:
    for module in (runtime.flow_run, runtime.task_run, runtime.deployment):
        assert dir(module) == sorted(module.FIELDS)
        for name in module.FIELDS:
            getattr(module, name)
    assert sorted(runtime.flow_run.FIELDS) == [
        "api_url",
        "flow_name",
        "flow_version",
        "id",
        "job_variables",
        "name",
        "parameters",
        "parent_deployment_id",
        "parent_flow_run_id",
        "root_flow_run_id",
        "run_count",
        "scheduled_start_time",
        "tags",
        "ui_url",
    ]


def test_an_unknown_attribute_says_what_there_is() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'.*run_count"):
        runtime.flow_run.nope  # noqa: B018


def test_get_run_context_outside_a_run_raises() -> None:
    with pytest.raises(MissingContextError, match="outside any flow run or task run") as info:
        get_run_context()
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, TaskbookError)
    assert FlowRunContext.get() is None and TaskRunContext.get() is None


# --- inside flows and tasks -----------------------------------------------------------


def _flow_values() -> dict[str, Any]:
    names = (
        "id",
        "name",
        "flow_name",
        "parameters",
        "tags",
        "run_count",
        "job_variables",
        "parent_flow_run_id",
        "root_flow_run_id",
        "flow_version",
        "scheduled_start_time",
    )
    return {name: getattr(runtime.flow_run, name) for name in names}


def _task_values() -> dict[str, Any]:
    names = ("id", "name", "task_name", "tags", "run_count")
    return {name: getattr(runtime.task_run, name) for name in names}


def test_inside_a_flow_and_its_task(store: Any) -> None:
    seen: dict[str, Any] = {}

    @task(tags=["io"])
    def load(x: int, y: int = 3) -> int:
        seen["task"], seen["task_flow"] = _task_values(), _flow_values()
        seen["task_context"], seen["its_flow"] = get_run_context(), FlowRunContext.get()
        seen["deployment_run_id"] = runtime.deployment.flow_run_id
        return x

    @flow(tags=["nightly"])
    def my_pipeline(p: int, q: str = "z") -> None:
        seen["flow"], seen["flow_task"] = _flow_values(), _task_values()
        seen["flow_context"], seen["no_task"] = get_run_context(), TaskRunContext.get()
        seen["deployment_parameters"] = runtime.deployment.parameters
        load(2)

    my_pipeline(2)
    outer, inner = seen["flow"], seen["task_flow"]
    assert outer == inner  # a task sees its flow run
    assert outer["flow_name"] == "my-pipeline" and outer["parameters"] == {"p": 2, "q": "z"}
    assert outer["tags"] == ["nightly"] and outer["run_count"] == 1
    assert outer["job_variables"] == {} and outer["parent_flow_run_id"] is None
    assert outer["root_flow_run_id"] == outer["id"]
    assert isinstance(outer["flow_version"], str) and outer["flow_version"]
    assert abs(outer["scheduled_start_time"] - datetime.now(UTC)) < timedelta(seconds=30)
    assert store.read_flow_run(outer["id"])["name"] == outer["name"]
    assert seen["flow_task"] == {
        "id": None,
        "name": None,
        "task_name": None,
        "tags": [],
        "run_count": 0,
    }
    assert seen["task"]["task_name"] == "load" and seen["task"]["name"].startswith("load-")
    assert seen["task"]["tags"] == ["io"] and seen["task"]["run_count"] == 1
    assert store.read_task_run(seen["task"]["id"])["flow_run_id"] == outer["id"]
    assert isinstance(seen["flow_context"], FlowRunContext) and seen["no_task"] is None
    assert seen["flow_context"].flow_run.id == outer["id"]
    assert isinstance(seen["task_context"], TaskRunContext)
    assert seen["task_context"].task_run.id == seen["task"]["id"]
    assert seen["its_flow"] is seen["flow_context"]
    # As in Prefect: outside a deployment these are the current flow run's.
    assert seen["deployment_run_id"] == outer["id"]
    assert seen["deployment_parameters"] == {"p": 2, "q": "z"}


def test_a_task_called_outside_a_flow_has_no_flow_run(home: Path) -> None:
    seen: dict[str, Any] = {}

    @task
    def alone() -> None:
        seen["flow_run_id"], seen["task"] = runtime.flow_run.id, _task_values()
        seen["context"] = get_run_context()

    alone()
    assert seen["flow_run_id"] is None and seen["task"]["task_name"] == "alone"
    assert isinstance(seen["context"], TaskRunContext)


def test_a_retried_task_counts_its_runs(home: Path) -> None:
    counts: list[int] = []

    @task(retries=2)
    def flaky() -> None:
        counts.append(runtime.task_run.run_count)
        if len(counts) < 3:
            raise ValueError("again")

    @flow
    def retrying() -> None:
        flaky()

    retrying()
    assert counts == [1, 2, 3]


def test_a_task_run_sees_its_parameters(home: Path) -> None:
    seen: dict[str, Any] = {}

    @task
    def load(x: int, y: int = 3) -> None:
        seen["parameters"] = runtime.task_run.parameters

    @flow
    def pipeline() -> None:
        load(2)

    pipeline()
    assert seen["parameters"] == {"x": 2, "y": 3}  # Prefect: defaults included


def test_subflows_know_their_parent_and_root(home: Path) -> None:
    seen: dict[str, dict[str, Any]] = {}

    @flow
    def leaf() -> None:
        seen["leaf"] = _flow_values()

    @flow
    def middle() -> None:
        seen["middle"] = _flow_values()
        leaf()

    @flow
    def top() -> None:
        seen["top"] = _flow_values()
        middle()
        seen["top_after"] = _flow_values()

    top()
    top_id, middle_id = seen["top"]["id"], seen["middle"]["id"]
    assert len({top_id, middle_id, seen["leaf"]["id"]}) == 3
    assert seen["top"]["parent_flow_run_id"] is None
    assert seen["middle"]["parent_flow_run_id"] == top_id
    assert seen["leaf"]["parent_flow_run_id"] == middle_id
    assert {seen[k]["root_flow_run_id"] for k in ("top", "middle", "leaf")} == {top_id}
    assert seen["leaf"]["flow_name"] == "leaf"
    assert seen["top_after"] == seen["top"]  # back in the parent once the subflow ends


def test_a_subflow_inside_a_task_is_the_run_context(home: Path) -> None:
    seen: dict[str, Any] = {}

    @flow
    def child() -> None:
        seen["child"] = get_run_context()

    @task
    def wrapper() -> None:
        child()
        seen["wrapper"] = get_run_context()

    @flow
    def parent() -> None:
        wrapper()

    parent()
    assert isinstance(seen["child"], FlowRunContext)
    assert seen["child"].flow_run.flow_name == "child"
    assert isinstance(seen["wrapper"], TaskRunContext)


def test_threads_started_with_the_context_see_the_run(home: Path) -> None:
    seen: list[str | None] = []

    @flow
    def threaded() -> None:
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(lambda: seen.append(runtime.flow_run.flow_name),)
        )
        thread.start()
        thread.join()

    threaded()
    assert seen == ["threaded"]


# --- deployment runs ------------------------------------------------------------------


def test_a_deployment_run_reads_its_deployment_from_the_store(store: Any) -> None:
    from kernel_ext.deployment import attach
    from tests.store.helpers import promote, schedule_run

    deployment = promote(store, "nightly")
    promote(store, "nightly", "print('v2')")  # version 2 is the latest now
    due = datetime(2024, 5, 2, 6, 30, tzinfo=UTC)
    run = schedule_run(store, deployment, due.timestamp(), parameters={"day": "2024-05-02"})
    assert run is not None
    seen: dict[str, Any] = {}

    @flow
    def step() -> None:
        seen["deployment"] = {
            name: getattr(runtime.deployment, name) for name in runtime.deployment.FIELDS
        }
        seen["flow"] = _flow_values()
        seen["parent_deployment_id"] = runtime.flow_run.parent_deployment_id

    attach(run["id"])  # as the notebook's first cell does (no fence: no worker here)
    try:
        dep = {name: getattr(runtime.deployment, name) for name in runtime.deployment.FIELDS}
        run_values = _flow_values()
        step()
    finally:
        set_ambient_flow_run(None)
    assert dep == {
        "id": deployment["id"],
        "name": "nightly",
        "version": "1",
        "flow_run_id": run["id"],
        "parameters": {"day": "2024-05-02"},
    }
    assert run_values["id"] == run["id"] and run_values["name"] == run["name"]
    assert run_values["scheduled_start_time"] == due
    assert run_values["parameters"] == {"day": "2024-05-02"}
    # A flow called in the notebook is a subflow of the deployment run and sees its deployment.
    assert seen["deployment"] == {**dep, "flow_run_id": seen["flow"]["id"]}
    assert seen["flow"]["parent_flow_run_id"] == run["id"]
    assert seen["flow"]["root_flow_run_id"] == run["id"]
    assert seen["parent_deployment_id"] == deployment["id"]
    assert runtime.deployment.id is None  # detached again


# --- environment overrides ------------------------------------------------------------


def test_an_override_is_cast_to_the_real_values_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOOK__RUNTIME__FLOW_RUN__RUN_COUNT", "4")
    monkeypatch.setenv("TASKBOOK__RUNTIME__FLOW_RUN__ID", "abc")
    monkeypatch.setenv("TASKBOOK__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", "2024-01-02T03:04")
    monkeypatch.setenv("TASKBOOK__RUNTIME__DEPLOYMENT__NAME", "nightly")
    monkeypatch.setenv("TASKBOOK__RUNTIME__TASK_RUN__RUN_COUNT", "2")
    assert runtime.flow_run.run_count == 4 and runtime.flow_run.id == "abc"
    assert runtime.flow_run.scheduled_start_time == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert runtime.deployment.name == "nightly" and runtime.task_run.run_count == 2


def test_an_override_of_an_unknown_attribute_is_its_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKBOOK__RUNTIME__FLOW_RUN__REGION", "eu")
    assert runtime.flow_run.region == "eu"


def test_a_list_cannot_be_overridden_but_its_getter_can(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKBOOK__RUNTIME__TASK_RUN__TAGS", "x")
    with pytest.raises(ValueError, match="monkeypatch kernel_ext.runtime.task_run.get_tags"):
        runtime.task_run.tags  # noqa: B018
    monkeypatch.delenv("TASKBOOK__RUNTIME__TASK_RUN__TAGS")
    monkeypatch.setattr(runtime.task_run, "get_tags", lambda: ["x"])
    assert runtime.task_run.tags == ["x"]


def test_an_override_applies_inside_a_run(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOOK__RUNTIME__FLOW_RUN__NAME", "pinned")

    @flow
    def named() -> str:
        return runtime.flow_run.name  # type: ignore[no-any-return]

    assert named() == "pinned"


# --- tags -----------------------------------------------------------------------------


def test_tags_nest_and_unwind() -> None:
    assert current_tags() == frozenset()
    with tags("a", "b") as outer:
        assert outer == {"a", "b"}
        with tags("b", "c") as inner:
            assert inner == {"a", "b", "c"} and current_tags() == inner
            inner.add("mutated")  # a copy: the block's tags do not change
            assert current_tags() == {"a", "b", "c"}
        assert current_tags() == {"a", "b"}
    assert current_tags() == frozenset()


def test_tags_unwind_after_an_error() -> None:
    with pytest.raises(KeyError), tags("a"):
        raise KeyError("x")
    assert current_tags() == frozenset()


def test_tags_reach_threads_that_copy_the_context() -> None:
    seen: list[frozenset[str]] = []
    with tags("a"):
        context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(lambda: seen.append(current_tags()),))
    thread.start()
    thread.join()
    assert seen == [frozenset({"a"})] and current_tags() == frozenset()


def test_tags_reach_the_flow_and_task_runs(store: Any) -> None:
    seen: dict[str, list[str]] = {}

    @task(tags=["own"])
    def step() -> None:
        seen["task"] = sorted(runtime.task_run.tags)

    @flow(tags=["flow-own"])
    def tagged() -> None:
        seen["flow"] = sorted(runtime.flow_run.tags)
        with tags("inner"):
            step()

    with tags("outer"):
        tagged()
    assert seen["flow"] == ["flow-own", "outer"]
    assert seen["task"] == ["inner", "outer", "own"]  # Prefect: task.tags | current tags
    flow_run = store.read_flow_run(store.list_flow_runs(limit=1)[0]["id"])
    assert sorted(flow_run["tags"]) == ["flow-own", "outer"]


# --- annotations ----------------------------------------------------------------------

ANNOTATIONS = [allow_failure, quote, opaque]


@pytest.mark.parametrize("kind", ANNOTATIONS, ids=lambda k: k.__name__)
def test_an_annotation_wraps_one_value(kind: type[BaseAnnotation[Any]]) -> None:
    value = [1, 2]
    wrapped = kind(value)
    assert wrapped.unwrap() is value and wrapped.value is value
    assert isinstance(wrapped, tuple) and len(wrapped) == 1 and tuple(wrapped) == (value,)
    (unpacked,) = wrapped
    assert unpacked is value
    assert repr(wrapped) == f"{kind.__name__}([1, 2])"
    rewrapped = wrapped.rewrap("other")
    assert type(rewrapped) is kind and rewrapped.unwrap() == "other"


@pytest.mark.parametrize("kind", ANNOTATIONS, ids=lambda k: k.__name__)
def test_annotations_are_equal_only_to_their_own_kind(kind: type[BaseAnnotation[Any]]) -> None:
    assert kind(1) == kind(1) and kind(1) != kind(2)
    assert kind(1) != (1,)  # not a plain tuple
    assert all(kind(1) != other(1) for other in ANNOTATIONS if other is not kind)
    with pytest.raises(TypeError, match="unhashable"):
        hash(kind(1))  # as Prefect's


def test_quote_unquotes_and_unmapped_is_the_mapping_one() -> None:
    assert quote("x").unquote() == "x"
    assert _annotations.unmapped is _mapping.unmapped
    assert _annotations.unwrap_annotations(quote(unmapped(allow_failure(3)))) == 3


def test_the_engine_honours_the_annotations(home: Path) -> None:
    """What Prefect passes (observed with Prefect 3): allow_failure -> the upstream's
    exception; quote -> the value unwrapped, a future left a future; opaque -> the future's
    result, its contents not searched for futures."""
    seen: dict[str, Any] = {}

    @task
    def boom() -> int:
        raise ValueError("bad")

    @task
    def seven() -> int:
        return 7

    @task
    def receive(key: str, value: Any) -> None:
        seen[key] = value

    @flow
    def annotated() -> None:
        failing, ok = boom.submit(), seven.submit()
        receive("allow_failure", allow_failure(failing))
        receive("quote_list", quote([1, 2]))
        receive("quote_future", quote(ok))
        receive("opaque_future", opaque(ok))
        receive("opaque_nested", [opaque(ok)])

    annotated(return_state=True)
    assert isinstance(seen["allow_failure"], ValueError)
    assert seen["quote_list"] == [1, 2]
    assert hasattr(seen["quote_future"], "result")  # the future itself
    assert seen["opaque_future"] == 7 and seen["opaque_nested"] == [7]
