"""Flow parameters as Prefect 3 validates them (tests/test_flows.py
``TestFlowParameterTypes``/``test_on_failure_hooks_run_on_bad_parameters`` and
tests/test_flow_engine.py, in our words): invalid parameters make a Failed run, not an
error before the run; valid ones are coerced; objects pass by reference."""

from __future__ import annotations

from typing import Any

import pytest


def _typed(pf: Any, calls: list[Any] | None = None) -> Any:
    hooks = [lambda flow, run, state: calls.append(state.name)] if calls is not None else []

    @pf.flow(on_failure=hooks)
    def typed(x: int) -> int:
        return x

    return typed


def test_invalid_parameters_give_a_failed_state(pf: Any) -> None:
    state = _typed(pf)("not a number", return_state=True)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), pf.exceptions.ParameterTypeError)
    assert "x" in state.message


def test_invalid_parameters_raise_when_called_normally(pf: Any) -> None:
    with pytest.raises(pf.exceptions.ParameterTypeError):
        _typed(pf)("not a number")


def test_on_failure_hooks_run_on_invalid_parameters(pf: Any) -> None:
    calls: list[Any] = []
    _typed(pf, calls)("not a number", return_state=True)
    assert calls == ["Failed"]


def test_a_subflow_with_invalid_parameters_fails_its_parent(pf: Any) -> None:
    typed = _typed(pf)

    @pf.flow
    def parent() -> int:
        return typed("not a number")

    state = parent(return_state=True)
    assert state.is_failed()
    with pytest.raises(pf.exceptions.ParameterTypeError):
        parent()


def test_a_subflow_state_with_invalid_parameters_leaves_the_parent_alone(pf: Any) -> None:
    typed = _typed(pf)

    @pf.flow
    def parent() -> bool:
        return typed("not a number", return_state=True).is_failed()

    assert parent() is True


@pytest.mark.parametrize("value, expected", [("3", 3), (3.0, 3), (True, 1)])
def test_valid_parameters_are_coerced_to_their_annotation(
    pf: Any, value: Any, expected: int
) -> None:
    result = _typed(pf)(value)
    assert result == expected and type(result) is int


def test_validation_can_be_turned_off(pf: Any) -> None:
    @pf.flow(validate_parameters=False)
    def typed(x: int) -> Any:
        return x

    assert typed("not a number") == "not a number"


def test_a_missing_parameter_raises_parameter_bind_error(pf: Any) -> None:
    with pytest.raises(pf.exceptions.ParameterBindError):
        _typed(pf)()


def test_flow_parameters_pass_by_reference(pf: Any) -> None:
    thing = object()
    items = [1]

    @pf.flow
    def identity(x: Any) -> Any:
        return x

    assert identity(thing) is thing
    assert identity(items) is items


def test_defaults_and_keyword_arguments(pf: Any) -> None:
    @pf.flow
    def my_flow(a: int, b: int = 2, *, c: int = 3) -> Any:
        return pf.runtime.flow_run.parameters, a + b + c

    assert my_flow(1, c=10) == ({"a": 1, "b": 2, "c": 10}, 13)
