"""Pausing for a person: the answer travels through the store, from any process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import pytest

from kernel_ext import PauseTimeout, RunInput, approvals, flow, pause_flow_run
from kernel_ext._errors import InputAlreadyAnswered, InputValidationError, PauseError
from tests.kernel_ext.helpers import last_flow_run, states_of


class ReviewInput(RunInput):
    """Does the **summary** look right?"""

    approved: bool
    feedback: str = ""
    tone: Literal["formal", "casual"] = "formal"


def answer_when_paused(action: Callable[[dict[str, Any]], Any]) -> threading.Thread:
    """In another thread (as another process would), wait for the pause, then act on it."""

    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = approvals.pending()
            if waiting:
                action(waiting[0])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_pause_returns_the_typed_answer(store: Any) -> None:
    @flow
    def review() -> ReviewInput:
        return pause_flow_run(wait_for_input=ReviewInput, timeout=30, poll_interval=0.05)

    seen: dict[str, Any] = {}

    def approve(request: dict[str, Any]) -> None:
        seen["request"] = request
        approvals.answer(
            request["flow_run_id"][:8], {"approved": True, "feedback": "ok"}, answered_by="ada"
        )

    thread = answer_when_paused(approve)
    result = review()
    thread.join()
    assert isinstance(result, ReviewInput)
    assert (result.approved, result.feedback, result.tone) == (True, "ok", "formal")
    request = seen["request"]
    assert request["description"] == "Does the **summary** look right?"
    assert set(request["schema"]["properties"]) == {"approved", "feedback", "tone"}
    run = last_flow_run(store)
    assert states_of(store, run["id"]) == ["Pending", "Running", "Paused", "Running", "Completed"]
    history = store.read_history(run["id"])
    assert history[3]["message"] == "Resumed by ada"
    assert history[3]["details"]["answer"] == {"approved": True, "feedback": "ok"}
    assert history[3]["details"]["answered_at"]
    (answered,) = store.list_input_requests(status="answered")
    assert answered["answered_by"] == "ada" and answered["answer"]["feedback"] == "ok"


def test_invalid_answers_are_refused_and_the_run_keeps_waiting(store: Any) -> None:
    @flow
    def review() -> bool:
        return pause_flow_run(wait_for_input=ReviewInput, timeout=30, poll_interval=0.05).approved

    errors: list[str] = []

    def answer_badly_then_well(request: dict[str, Any]) -> None:
        for bad in ({"approved": "perhaps"}, {"approved": True, "tone": "rude"}, {"x": 1}):
            with pytest.raises(InputValidationError) as caught:
                approvals.answer(request["id"], bad)
            errors.append(str(caught.value))
        assert store.read_input_request(request["id"])["error"]
        approvals.answer(request["id"], '{"approved": false}')
        with pytest.raises(InputAlreadyAnswered):
            approvals.answer(request["id"], {"approved": True})

    thread = answer_when_paused(answer_badly_then_well)
    assert review() is False
    thread.join()
    assert "approved: 'perhaps' is not of type 'boolean'" in errors[0]
    assert "tone" in errors[1] and "'x' was unexpected" in errors[2]


def test_a_bare_type_and_a_plain_resume(store: Any) -> None:
    @flow
    def ask() -> tuple[Any, Any]:
        number = pause_flow_run(wait_for_input=int, key="n", timeout=30, poll_interval=0.05)
        plain = pause_flow_run(key="go", timeout=30, poll_interval=0.05)
        return number, plain

    def answer_both(request: dict[str, Any]) -> None:
        approvals.answer(request["id"], "42")
        deadline = time.monotonic() + 10
        while not approvals.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        approvals.answer(approvals.pending()[0]["id"], None)

    thread = answer_when_paused(answer_both)
    assert ask() == (42, None)
    thread.join()


def test_reject_cancels_the_run(store: Any) -> None:
    @flow
    def guarded() -> str:
        pause_flow_run(timeout=30, poll_interval=0.05)
        return "went ahead"

    thread = answer_when_paused(lambda r: approvals.reject(r["id"], "not today", "bob"))
    state = guarded(return_state=True)
    thread.join()
    assert state.name == "Cancelled"
    assert state.message == "Rejected by bob: not today"


def test_timeout_fails_the_run_and_expires_the_form(store: Any) -> None:
    @flow
    def impatient() -> None:
        pause_flow_run(wait_for_input=bool, timeout=0.3, poll_interval=0.05)

    with pytest.raises(PauseTimeout, match="within 0.3 s"):
        impatient()
    assert last_flow_run(store)["state"] == "Failed"
    (expired,) = store.list_input_requests(status="expired")
    assert expired["status"] == "expired"


def test_pause_outside_a_flow_says_where_it_works(home: Any) -> None:
    with pytest.raises(PauseError, match="inside a @flow"):
        pause_flow_run()


def test_default_keys_name_the_pause_by_where_it_is(store: Any) -> None:
    @flow(name="gate")
    def two_gates() -> tuple[Any, Any]:
        return (
            pause_flow_run(wait_for_input=str, timeout=30, poll_interval=0.05),
            pause_flow_run(wait_for_input=str, timeout=30, poll_interval=0.05),
        )

    keys: list[str] = []

    def answer_each(request: dict[str, Any]) -> None:
        for text in ("yes", "123"):  # a text form keeps text as it is
            deadline = time.monotonic() + 10
            while not approvals.pending() and time.monotonic() < deadline:
                time.sleep(0.05)
            pending = approvals.pending()[0]
            keys.append(pending["key"])
            approvals.answer(pending["id"], text)

    thread = answer_when_paused(answer_each)
    assert two_gates() == ("yes", "123")
    thread.join()
    assert keys == ["gate.pause-0", "gate.pause-1"]
