"""Decorator options as Prefect 3 has them (tests/test_tasks.py, tests/test_flows.py and
src/prefect/tasks.py ``Task.__init__``, in our words): versions, result persistence and
storage, serializers, storage keys, in-memory results and ``with_options``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest


def test_versions_of_flows_and_tasks(pf: Any) -> None:
    @pf.flow(version="2.1")
    def versioned_flow() -> None:
        pass

    @pf.task(version="1.0")
    def versioned_task() -> None:
        pass

    @pf.task
    def plain_task() -> None:
        pass

    assert versioned_flow.version == "2.1"
    assert versioned_task.version == "1.0"
    assert plain_task.version is None


def test_a_flow_without_a_version_gets_one_from_its_source_file(pf: Any) -> None:
    @pf.flow
    def my_flow() -> None:
        pass

    assert isinstance(my_flow.version, str) and my_flow.version


def test_the_flow_run_records_the_flow_version(pf: Any) -> None:
    @pf.flow(version="7")
    def my_flow() -> Any:
        return pf.runtime.flow_run.flow_version

    assert my_flow() == "7"


def test_result_storage_accepts_a_path(pf: Any, tmp_path: Path) -> None:
    @pf.task(result_storage=tmp_path, persist_result=True)
    def my_task() -> int:
        return 3

    @pf.flow
    def my_flow() -> int:
        return my_task()

    assert my_flow() == 3
    assert len(list(tmp_path.iterdir())) == 1


def test_persist_result_false_writes_nothing(pf: Any, tmp_path: Path) -> None:
    @pf.task(result_storage=tmp_path, persist_result=False)
    def my_task() -> int:
        return 3

    @pf.flow
    def my_flow() -> int:
        return my_task()

    assert my_flow() == 3
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option",
    [
        {"result_storage_key": "k"},
        {"result_serializer": "json"},
        {"cache_key_fn": lambda c, p: "k"},
    ],
)
def test_result_options_turn_persistence_on(pf: Any, option: dict[str, Any]) -> None:
    @pf.task(**option)
    def my_task() -> None:
        pass

    @pf.task
    def plain() -> None:
        pass

    assert my_task.persist_result is True
    assert plain.persist_result is None


def test_result_storage_key_is_formatted_with_the_parameters(pf: Any, tmp_path: Path) -> None:
    @pf.task(result_storage=tmp_path, result_storage_key="{parameters[x]}.json")
    def my_task(x: int) -> dict[str, int]:
        return {"value": x}

    @pf.flow
    def my_flow() -> Any:
        return my_task(3), my_task(4)

    assert my_flow() == ({"value": 3}, {"value": 4})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.json", "4.json"]


def test_the_json_serializer_writes_json(pf: Any, tmp_path: Path) -> None:
    @pf.task(result_storage=tmp_path, result_storage_key="out", result_serializer="json")
    def my_task() -> dict[str, Any]:
        return {"value": [1, 2], "name": "x"}

    @pf.flow
    def my_flow() -> Any:
        return my_task()

    assert my_flow() == {"value": [1, 2], "name": "x"}
    text = (tmp_path / "out").read_text()
    if pf.name != "prefect":  # Taskbook's result file: a header line, then the payload
        text = text.split("\n", 1)[1]
    json.loads(text)  # JSON (Prefect's whole file, with the value nested as a string)
    assert "name" in text


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_results_round_trip_through_either_serializer(
    pf: Any, tmp_path: Path, serializer: str
) -> None:
    @pf.task(result_storage=tmp_path, result_serializer=serializer, cache_result_in_memory=False)
    def my_task(x: int) -> dict[str, Any]:
        return {"x": x, "items": [1, 2, 3]}

    @pf.flow
    def my_flow() -> Any:
        return my_task(5, return_state=True).result()

    assert my_flow() == {"x": 5, "items": [1, 2, 3]}
    assert my_task.result_serializer == serializer


def test_cache_result_in_memory_false_still_returns_the_value(pf: Any) -> None:
    @pf.task(cache_result_in_memory=False, persist_result=True)
    def my_task() -> list[int]:
        return [1, 2]

    @pf.flow
    def my_flow() -> Any:
        state = my_task(return_state=True)
        return my_task.cache_result_in_memory, state.result()

    assert my_flow() == (False, [1, 2])


def test_flow_results_can_be_persisted(pf: Any, tmp_path: Path) -> None:
    @pf.flow(result_storage=tmp_path, persist_result=True)
    def my_flow() -> int:
        return 11

    assert my_flow() == 11
    assert my_flow.persist_result is True
    assert len(list(tmp_path.iterdir())) == 1


def test_a_task_exposes_its_source_code(pf: Any) -> None:
    @pf.task
    def my_task() -> str:
        return "source marker 7f3a"

    assert "source marker 7f3a" in my_task.source_code


def test_flow_serialize_parameters_makes_json_safe_values(pf: Any) -> None:
    @pf.flow
    def my_flow(path: Path, when: datetime.date, items: set[int], plain: int = 1) -> None:
        pass

    serialized = my_flow.serialize_parameters(
        {"path": Path("/data/x"), "when": datetime.date(2024, 1, 2), "items": {1}, "plain": 3}
    )
    assert serialized == {"path": "/data/x", "when": "2024-01-02", "items": [1], "plain": 3}
    json.dumps(serialized)


def test_task_with_options_keeps_the_other_options(pf: Any, tmp_path: Path) -> None:
    @pf.task(
        name="original",
        version="3",
        tags=["a"],
        retries=2,
        retry_delay_seconds=0,
        timeout_seconds=30,
        persist_result=True,
        result_storage=tmp_path,
        result_storage_key="{parameters[x]}",
        result_serializer="json",
        cache_result_in_memory=False,
        log_prints=True,
        refresh_cache=True,
    )
    def my_task(x: int) -> int:
        return x

    copy = my_task.with_options(name="renamed")
    assert copy.name == "renamed"
    assert copy.version == "3"
    assert set(copy.tags) == {"a"}
    assert copy.retries == 2
    assert copy.timeout_seconds == 30
    assert copy.persist_result is True
    assert Path(copy.result_storage) == tmp_path
    assert copy.result_storage_key == "{parameters[x]}"
    assert copy.result_serializer == "json"
    assert copy.cache_result_in_memory is False
    assert copy.log_prints is True
    assert copy.refresh_cache is True
    assert copy.fn is my_task.fn


def test_task_with_options_changes_only_what_is_given(pf: Any) -> None:
    @pf.task(retries=2, tags=["a"])
    def my_task() -> int:
        return 1

    copy = my_task.with_options(retries=0, tags=["b"])
    assert (copy.retries, set(copy.tags)) == (0, {"b"})
    assert (my_task.retries, set(my_task.tags)) == (2, {"a"})


def test_flow_with_options_keeps_the_other_options(pf: Any) -> None:
    @pf.flow(
        name="original",
        version="5",
        retries=1,
        retry_delay_seconds=0,
        log_prints=True,
        flow_run_name="run-{x}",
        timeout_seconds=60,
        validate_parameters=False,
        persist_result=True,
    )
    def my_flow(x: int) -> int:
        return x

    copy = my_flow.with_options(name="renamed")
    assert copy.name == "renamed"
    assert copy.version == "5"
    assert copy.retries == 1
    assert copy.log_prints is True
    assert copy.flow_run_name == "run-{x}"
    assert copy.timeout_seconds == 60
    assert copy.should_validate_parameters is False
    assert copy.persist_result is True
    assert copy("not validated") == "not validated"


def test_tags_reach_the_task_run(pf: Any) -> None:
    @pf.task(tags=["from-decorator"])
    def my_task() -> Any:
        return set(pf.context.get_run_context().task_run.tags)

    @pf.flow
    def my_flow() -> Any:
        with pf.tags("from-context"):
            return my_task()

    assert my_flow() == {"from-decorator", "from-context"}


def test_retry_options_are_attributes(pf: Any) -> None:
    @pf.task(retries=3, retry_delay_seconds=[1, 2, 3])
    def my_task() -> None:
        pass

    @pf.flow(retries=2, retry_delay_seconds=5)
    def my_flow() -> None:
        pass

    assert (my_task.retries, my_task.retry_delay_seconds) == (3, [1, 2, 3])
    assert (my_flow.retries, my_flow.retry_delay_seconds) == (2, 5)
