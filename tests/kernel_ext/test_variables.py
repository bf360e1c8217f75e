"""``Variable`` as Prefect documents it (values, names, overwrite, defaults, async
dispatch), stored on SQLite and PostgreSQL, with profiles."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from kernel_ext import Variable, _settings, flow, task
from kernel_ext._errors import ConfigurationError, InvalidNameError, VariableAlreadyExists
from kernel_ext.store._tables import variables as variables_table

# Prefect's test_json_types
JSON_VALUES = [
    "string-value",
    '"string-value"',
    123,
    12.3,
    True,
    False,
    None,
    {"key": "value"},
    ["value1", "value2"],
    {"key": ["value1", "value2"]},
]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_json_values_round_trip(store: Any, value: Any) -> None:
    stored = Variable.set("my_var", value, tags=["a", "b"])
    assert (stored.name, stored.value, stored.tags) == ("my_var", value, ["a", "b"])
    got = Variable.get("my_var", default="absent")
    assert got == value and type(got) is type(value)


def test_the_value_is_stored_as_json(store: Any) -> None:
    Variable.set("config", {"retries": 3, "regions": ["eu", "us"]})
    engine = create_engine(store.url)
    with engine.connect() as connection:
        row = connection.execute(select(variables_table)).one()
    engine.dispose()
    assert (row.name, row.value, row.tags) == (
        "config",
        {"retries": 3, "regions": ["eu", "us"]},
        [],
    )


def test_setting_an_existing_name_needs_overwrite(store: Any) -> None:
    Variable.set("my_var", "one", tags=["keep"])
    with pytest.raises(
        ValueError, match=r"Variable 'my_var' already exists\. Use `overwrite=True` to update it\."
    ) as info:
        Variable.set("my_var", "two")
    assert isinstance(info.value, VariableAlreadyExists) and info.value.name == "my_var"
    assert Variable.get("my_var") == "one"
    updated = Variable.set("my_var", "two", overwrite=True)
    assert (updated.value, updated.tags) == ("two", [])  # as Prefect: tags reset too
    assert store.read_variable("my_var")["tags"] == []


def test_get_returns_the_default_and_unset_says_whether_it_was_there(store: Any) -> None:
    assert Variable.get("doesnt_exist") is None
    assert Variable.get("doesnt_exist", 42) == 42
    assert Variable[str].get("doesnt_exist", "default") == "default"
    Variable.set("gone", 1)
    assert Variable.unset("gone") is True
    assert Variable.unset("gone") is False
    assert Variable.get("gone", "absent") == "absent"


@pytest.mark.parametrize("name", ["MY_VARIABLE", "my variable", "!@#$%", "my.var", "", "x" * 256])
def test_names_are_prefects_variable_names(store: Any, name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        Variable.set(name, 1)
    assert isinstance(info.value, ValueError)
    assert Variable.set("x" * 255, 1).name == "x" * 255
    assert Variable.set("my-var_2", 1).name == "my-var_2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 5000, "must be less than 5000 characters"),
        (datetime(2026, 1, 1), "serializable to JSON"),
        ({"a", "b"}, "serializable to JSON"),
        (float("nan"), "serializable to JSON: NaN and Infinity are not JSON"),
        ([float("inf")], "NaN and Infinity are not JSON"),
        ({1: "a"}, "the key 1 of a dict is not a string"),
    ],
)
def test_values_prefect_refuses_are_refused(store: Any, value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Variable.set("v", value)
    assert Variable.get("v") is None


def test_a_tuple_is_stored_as_a_list_and_bad_tags_are_refused(store: Any) -> None:
    assert Variable.set("pair", (1, 2)).value == [1, 2]
    with pytest.raises(ConfigurationError, match="list of strings"):
        Variable.set("tagged", 1, tags="prod")  # type: ignore[arg-type]


def test_a_profile_reads_its_own_name_first_and_falls_back(store: Any) -> None:
    Variable.set("warehouse", "shared-db")
    Variable.set("staging-warehouse", "staging-db")
    with _settings.override(TASKBOOK_PROFILE="staging"):
        assert Variable.get("warehouse") == "staging-db"
        assert Variable.set("batch", 10).name == "staging-batch"
        assert Variable.get("batch") == 10
        assert Variable.unset("warehouse") is True  # the profile's own
        assert Variable.get("warehouse") == "shared-db"
    with _settings.override(TASKBOOK_PROFILE="prod"):
        assert Variable.get("warehouse") == "shared-db"
        assert Variable.get("batch", "none") == "none"


def test_sync_and_async_flows_and_tasks(store: Any) -> None:
    @task
    async def read(name: str) -> Any:
        return await Variable.get(name)

    @flow
    async def async_flow() -> list[Any]:
        await Variable.set("n", 1)
        await Variable.aset("n", 2, overwrite=True)
        values = [await Variable.get("n"), await Variable.aget("n"), await read("n")]
        values.append(Variable.get("n", _sync=True))
        values.append(await Variable.unset("n"))
        values.append(await Variable.aunset("n"))
        return values

    @flow
    def sync_flow() -> Any:
        Variable.set("m", "text")
        return Variable.get("m")

    assert asyncio.run(async_flow()) == [2, 2, 2, 2, True, False]
    assert sync_flow() == "text"
    assert Variable.get("m") == "text"  # outside runs: a value

    async def script() -> list[Any]:  # async code outside runs, where a loop runs
        return [await Variable.get("m"), Variable.get("m", _sync=True)]

    assert asyncio.run(script()) == ["text", "text"]
    assert asyncio.run(Variable.get("m", _sync=False)) == "text"


def test_one_of_several_racing_to_create_a_name_wins(store: Any) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def create(index: int) -> None:
        start.wait()
        try:
            Variable.set("lock_holder", index)
            outcomes.append("created")
        except VariableAlreadyExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
    assert [r["name"] for r in store.list_variables()] == ["lock_holder"]
