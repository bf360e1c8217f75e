"""Cache policies as Prefect 3 has them (tests/test_cache_policies.py, tests/test_tasks.py
``TestTaskCaching`` and src/prefect/cache_policies.py, in our words): composing policies,
custom policies, the default policy, ``cache_key_fn``, expiration and refresh."""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from typing import Any

import pytest


def _names(states: Any) -> list[str]:
    return [s.name for s in states]


# --- composing policies -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["INPUTS", "TASK_SOURCE", "RUN_ID", "FLOW_PARAMETERS"])
def test_adding_none_is_a_no_op(pf: Any, name: str) -> None:
    policy = getattr(pf.cache_policies, name)
    assert pf.cache_policies.NONE + policy is policy
    assert policy + pf.cache_policies.NONE is policy


def test_none_plus_a_compound_policy_is_that_policy(pf: Any) -> None:
    # Only this order: CompoundCachePolicy.__add__ appends NONE as a further part.
    assert pf.cache_policies.NONE + pf.cache_policies.DEFAULT is pf.cache_policies.DEFAULT


def test_compound_policies_flatten(pf: Any) -> None:
    cp = pf.cache_policies
    left = (cp.INPUTS + cp.TASK_SOURCE) + cp.RUN_ID
    right = cp.FLOW_PARAMETERS + (cp.TASK_SOURCE + cp.RUN_ID)
    assert isinstance(left, cp.CompoundCachePolicy)
    assert len(left.policies) == 3
    assert len(right.policies) == 3
    assert not any(isinstance(p, cp.CompoundCachePolicy) for p in left.policies + right.policies)


def test_default_is_inputs_task_source_and_run_id(pf: Any) -> None:
    cp = pf.cache_policies
    kinds = {type(p) for p in cp.DEFAULT.policies}
    assert kinds == {cp.Inputs, cp.TaskSource, cp.RunId}


def test_subtracting_an_input_name_excludes_it(pf: Any) -> None:
    cp = pf.cache_policies
    assert (cp.INPUTS - "x").exclude == ["x"]
    assert (cp.INPUTS - "x" - "y").exclude == ["x", "y"]
    inputs = [p for p in (cp.DEFAULT - "x").policies if isinstance(p, cp.Inputs)]
    assert [p.exclude for p in inputs] == [["x"]]
    assert cp.INPUTS.exclude == []  # subtracting makes a new policy


def test_subtracting_from_a_policy_without_inputs_changes_nothing(pf: Any) -> None:
    cp = pf.cache_policies
    assert cp.TASK_SOURCE - "x" is cp.TASK_SOURCE
    with pytest.raises(TypeError):
        cp.INPUTS - 1


def test_configure_returns_a_configured_copy(pf: Any, tmp_path: Any) -> None:
    cp = pf.cache_policies
    configured = cp.INPUTS.configure(key_storage=str(tmp_path), isolation_level="SERIALIZABLE")
    assert configured.key_storage == str(tmp_path)
    assert configured.isolation_level == "SERIALIZABLE"
    assert cp.INPUTS.key_storage is None and cp.INPUTS.isolation_level is None
    assert configured.configure(lock_manager=None).key_storage == str(tmp_path)


def test_policies_with_different_key_storage_cannot_be_added(pf: Any, tmp_path: Any) -> None:
    cp = pf.cache_policies
    one = cp.INPUTS.configure(key_storage=str(tmp_path / "one"))
    two = cp.TASK_SOURCE.configure(key_storage=str(tmp_path / "two"))
    with pytest.raises(ValueError):
        one + two


# --- policies at work -------------------------------------------------------------------


def test_a_custom_policy_computes_the_key(pf: Any) -> None:
    calls: list[int] = []

    class Parity(pf.cache_policies.CachePolicy):
        def compute_key(
            self,
            task_ctx: Any,
            inputs: dict[str, Any],
            flow_parameters: dict[str, Any],
            **kwargs: Any,
        ) -> str:
            return f"parity-{uuid_run}-{inputs['x'] % 2}"

    uuid_run = uuid.uuid4().hex

    @pf.task(cache_policy=Parity(), persist_result=True)
    def record(x: int) -> int:
        calls.append(x)
        return x

    @pf.flow
    def my_flow() -> Any:
        return [record(x, return_state=True) for x in (1, 3, 2, 5)]

    states = my_flow()
    assert _names(states) == ["Completed", "Cached", "Completed", "Cached"]
    assert [s.result() for s in states] == [1, 1, 2, 1]
    assert calls == [1, 2]


def test_a_custom_policy_sees_the_flow_parameters_and_context(pf: Any) -> None:
    seen: dict[str, Any] = {}

    class Spy(pf.cache_policies.CachePolicy):
        def compute_key(
            self,
            task_ctx: Any,
            inputs: dict[str, Any],
            flow_parameters: dict[str, Any],
            **kwargs: Any,
        ) -> None:
            seen.update(inputs=inputs, params=flow_parameters, task=task_ctx.task.name)
            return None

    @pf.task(cache_policy=Spy(), persist_result=True)
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow(p: str) -> int:
        return my_task(4)

    my_flow("hello")
    assert seen == {"inputs": {"x": 4}, "params": {"p": "hello"}, "task": "my_task"}


def test_a_compound_policy_ignores_parts_that_give_no_key(pf: Any) -> None:
    token = uuid.uuid4().hex

    class NoKey(pf.cache_policies.CachePolicy):
        def compute_key(
            self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kwargs: Any
        ) -> None:
            return None

    class Fixed(pf.cache_policies.CachePolicy):
        def compute_key(
            self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kwargs: Any
        ) -> str:
            return token

    @pf.task(cache_policy=NoKey() + Fixed(), persist_result=True)
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        return my_task(1, return_state=True), my_task(2, return_state=True)

    assert _names(my_flow()) == ["Completed", "Cached"]


def test_the_default_policy_caches_within_one_flow_run(pf: Any) -> None:
    calls: list[str] = []

    @pf.task(persist_result=True)
    def record(x: str) -> str:
        calls.append(x)
        return x

    @pf.flow
    def my_flow(x: str) -> Any:
        return (
            record(x, return_state=True),
            record(x, return_state=True),
            record("other", return_state=True),
        )

    assert record.cache_policy == pf.cache_policies.DEFAULT
    value = uuid.uuid4().hex
    assert _names(my_flow(value)) == ["Completed", "Cached", "Completed"]
    assert _names(my_flow(value)) == ["Completed", "Cached", "Completed"]  # a new run: RUN_ID
    assert calls == [value, "other", value, "other"]


def test_without_persistence_nothing_is_cached(pf: Any) -> None:
    @pf.task
    def record(x: str) -> str:
        return x

    @pf.flow
    def my_flow() -> Any:
        return record("a", return_state=True), record("a", return_state=True)

    assert _names(my_flow()) == ["Completed", "Completed"]


def test_the_none_policy_never_caches(pf: Any) -> None:
    @pf.task(cache_policy=pf.cache_policies.NONE, persist_result=True)
    def record(x: str) -> str:
        return x

    @pf.flow
    def my_flow() -> Any:
        return record("a", return_state=True), record("a", return_state=True)

    assert _names(my_flow()) == ["Completed", "Completed"]


def test_inputs_of_a_task_without_arguments_give_no_key(pf: Any) -> None:
    @pf.task(cache_policy=pf.cache_policies.INPUTS, persist_result=True)
    def constant() -> int:
        return 1

    @pf.flow
    def my_flow() -> Any:
        return constant(return_state=True), constant(return_state=True)

    assert _names(my_flow()) == ["Completed", "Completed"]


@pytest.mark.parametrize("policy", ["INPUTS", "DEFAULT"])
def test_an_excluded_input_does_not_change_the_key(pf: Any, policy: str) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_policy=getattr(pf.cache_policies, policy) - "noise", persist_result=True)
    def compute(x: str, noise: int) -> str:
        return f"{x}-{noise}"

    @pf.flow
    def my_flow() -> Any:
        return compute(token, 1, return_state=True), compute(token, 2, return_state=True)

    first, second = my_flow()
    assert (first.name, second.name) == ("Completed", "Cached")
    assert second.result() == f"{token}-1"


def test_inputs_caches_across_flow_runs(pf: Any) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_policy=pf.cache_policies.INPUTS)
    def compute(x: str) -> str:
        return x

    @pf.flow
    def my_flow() -> Any:
        return compute(token, return_state=True).name

    assert (my_flow(), my_flow()) == ("Completed", "Cached")


def test_flow_parameters_policy_keys_on_the_flow_parameters(pf: Any) -> None:
    @pf.task(cache_policy=pf.cache_policies.FLOW_PARAMETERS)
    def compute(x: int) -> int:
        return x

    @pf.flow
    def my_flow(token: str, x: int) -> Any:
        return compute(x, return_state=True)

    token = uuid.uuid4().hex
    first = my_flow(token, 1)
    again = my_flow(token, 1)
    other = my_flow(token + "-other", 2)
    assert (first.name, again.name, other.name) == ("Completed", "Cached", "Completed")


def test_a_key_that_cannot_be_computed_does_not_fail_the_run(pf: Any) -> None:
    @pf.task(persist_result=True)
    def takes_a_lock(lock: Any) -> int:
        return 1

    @pf.flow
    def my_flow() -> Any:
        lock = threading.Lock()
        return takes_a_lock(lock, return_state=True), takes_a_lock(lock, return_state=True)

    assert _names(my_flow()) == ["Completed", "Completed"]


# --- cache_key_fn and task_input_hash ---------------------------------------------------


def test_cache_key_fn_receives_the_task_run_context(pf: Any) -> None:
    seen: dict[str, Any] = {}
    token = uuid.uuid4().hex

    def key(context: Any, parameters: dict[str, Any]) -> str:
        seen.update(
            task=context.task.name,
            run_name=context.task_run.name,
            run_id=context.task_run.id,
            context_parameters=context.parameters,
            parameters=parameters,
        )
        return token

    @pf.task(cache_key_fn=key)
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        first = my_task(1)
        return first, my_task(2)  # the same key: the first value comes back

    assert my_flow() == (1, 1)
    assert seen["task"] == "my_task"
    assert seen["run_name"].startswith("my_task")
    assert seen["run_id"] is not None
    assert seen["parameters"] == {"x": 2} == seen["context_parameters"]


def test_cache_key_fn_returning_none_does_not_cache(pf: Any) -> None:
    @pf.task(cache_key_fn=lambda context, parameters: None)
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        return my_task(1, return_state=True), my_task(1, return_state=True)

    assert _names(my_flow()) == ["Completed", "Completed"]


def test_task_input_hash_caches_on_the_inputs(pf: Any) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_key_fn=pf.tasks.task_input_hash)
    def my_task(x: str, y: int) -> str:
        return f"{x}{y}"

    @pf.flow
    def my_flow() -> Any:
        return [my_task(token, y, return_state=True) for y in (1, 1, 2)]

    assert _names(my_flow()) == ["Completed", "Cached", "Completed"]
    assert _names(my_flow())[:2] == ["Cached", "Cached"]  # not tied to the flow run


def test_cache_key_fn_wins_over_cache_policy(pf: Any) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_key_fn=lambda context, parameters: token, cache_policy=pf.cache_policies.NONE)
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        return my_task(1, return_state=True), my_task(2, return_state=True)

    assert _names(my_flow()) == ["Completed", "Cached"]


# --- expiration and refresh -------------------------------------------------------------


def test_cache_expiration_ends_the_hit(pf: Any) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_key_fn=lambda c, p: token, cache_expiration=datetime.timedelta(seconds=0.3))
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        first = my_task(1, return_state=True)
        hit = my_task(2, return_state=True)
        time.sleep(0.4)
        expired = my_task(3, return_state=True)
        return _names([first, hit, expired]), expired.result()

    assert my_flow() == (["Completed", "Cached", "Completed"], 3)


def test_refresh_cache_recomputes_and_replaces_the_entry(pf: Any) -> None:
    token = uuid.uuid4().hex

    @pf.task(cache_key_fn=lambda c, p: token)
    def my_task(x: int) -> int:
        return x

    refreshing = my_task.with_options(refresh_cache=True)

    @pf.flow
    def my_flow() -> Any:
        first = my_task(1, return_state=True)
        refreshed = refreshing(2, return_state=True)
        after = my_task(3, return_state=True)
        return _names([first, refreshed, after]), after.result()

    assert my_flow() == (["Completed", "Completed", "Cached"], 2)
