from __future__ import annotations

import pytest

from kernel_ext import _states as states
from kernel_ext._errors import CancelledRun, UnfinishedRun
from kernel_ext._states import StateType

NAMES = {
    "Scheduled": StateType.SCHEDULED,
    "Late": StateType.SCHEDULED,
    "AwaitingRetry": StateType.SCHEDULED,
    "Pending": StateType.PENDING,
    "Running": StateType.RUNNING,
    "Retrying": StateType.RUNNING,
    "Paused": StateType.PAUSED,
    "Suspended": StateType.PAUSED,
    "Completed": StateType.COMPLETED,
    "Cached": StateType.COMPLETED,
    "Failed": StateType.FAILED,
    "TimedOut": StateType.FAILED,
    "Crashed": StateType.CRASHED,
    "Cancelling": StateType.CANCELLING,
    "Cancelled": StateType.CANCELLED,
}


@pytest.mark.parametrize(("name", "type_"), NAMES.items())
def test_every_state_has_prefects_name_and_type(name: str, type_: StateType) -> None:
    state = getattr(states, name)()
    assert state.name == name
    assert state.type is type_


def test_result_of_completed_returns_data() -> None:
    assert states.Cached(data=3).result() == 3


def test_result_of_failed_raises_the_original_exception() -> None:
    error = KeyError("k")
    with pytest.raises(KeyError):
        states.Failed("KeyError", data=error).result()
    assert states.Failed(data=error).result(raise_on_failure=False) is error


def test_result_of_unfinished_and_cancelled_runs_explain_themselves() -> None:
    with pytest.raises(UnfinishedRun, match="not final"):
        states.Running().result()
    with pytest.raises(CancelledRun):
        states.Cancelled("stopped").result()


def test_final_types() -> None:
    assert [n for n in NAMES if getattr(states, n)().is_final()] == [
        "Completed",
        "Cached",
        "Failed",
        "TimedOut",
        "Crashed",
        "Cancelled",
    ]


def test_repr_is_prefect_like() -> None:
    assert repr(states.Completed()) == "Completed()"
    assert repr(states.Failed("boom")) == "Failed('boom')"
