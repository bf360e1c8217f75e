"""ApprovalForm: the request trait, and answers that come through the kernel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kernel_ext.widgets.conftest import Sent

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

from kernel_ext.widgets import ApprovalForm

SCHEMA = {
    "title": "Approval",
    "type": "object",
    "properties": {"approved": {"type": "boolean", "title": "Approved"}},
    "required": ["approved"],
}


def request(**changes: Any) -> dict[str, Any]:
    return {
        "id": "req-1",
        "flow_run_id": "run-1",
        "flow_run_name": "calm-otter",
        "key": "review",
        "description": "**Check** the numbers.",
        "schema": SCHEMA,
        "status": "pending",
        **changes,
    }


class Calls:
    def __init__(self, error: str | None = None) -> None:
        self.values: list[Any] = []
        self.error = error

    def __call__(self, value: Any) -> str | None:
        self.values.append(value)
        return self.error


def test_the_request_is_normalized_into_the_trait() -> None:
    form = ApprovalForm({"id": "r", "key": "k", "schema": None})
    assert form.request == {
        "id": "r",
        "flow_run_id": "",
        "flow_run_name": "",
        "key": "k",
        "description": "",
        "schema": {},
        "status": "pending",
        "error": None,
        "answer": None,
        "answered_by": None,
        "answered_at": None,
        "flow_name": None,
        "timeout_at": None,
    }


def test_an_answer_through_the_kernel_reaches_the_callback(sent: Sent) -> None:
    on_answer = Calls()
    form = ApprovalForm(request(), on_answer=on_answer)
    form.send = sent
    form._handle_custom_msg({"type": "answer", "answer": {"approved": True}}, [])
    assert on_answer.values == [{"approved": True}]
    assert sent.messages == [{"type": "result", "action": "answer", "error": None}]
    assert form.request["status"] == "answered"
    assert form.request["answer"] == {"approved": True}
    assert form.request["answered_at"]


def test_a_refused_answer_shows_its_error(sent: Sent) -> None:
    form = ApprovalForm(request(), on_answer=Calls("approved: not a boolean"))
    form.send = sent
    form._handle_custom_msg({"type": "answer", "answer": {"approved": "yes"}}, [])
    error = "approved: not a boolean"
    assert sent.messages == [{"type": "result", "action": "answer", "error": error}]
    assert form.request["status"] == "pending"
    assert form.request["error"] == "approved: not a boolean"


def test_a_callback_that_raises_becomes_an_error_message(sent: Sent) -> None:
    def broken(value: Any) -> str | None:
        raise RuntimeError("store is down")

    form = ApprovalForm(request(), on_answer=broken)
    form.send = sent
    form._handle_custom_msg({"type": "answer", "answer": {}}, [])
    assert sent.messages[0]["error"] == "RuntimeError: store is down"


def test_a_rejection_reaches_its_callback(sent: Sent) -> None:
    on_reject = Calls()
    form = ApprovalForm(request(), on_reject=on_reject)
    form.send = sent
    form._handle_custom_msg({"type": "reject", "reason": "numbers are off"}, [])
    assert on_reject.values == ["numbers are off"]
    assert sent.messages == [{"type": "result", "action": "reject", "error": None}]
    assert form.request["status"] == "rejected"


def test_without_callbacks_the_form_says_where_to_answer(sent: Sent) -> None:
    form = ApprovalForm(request())
    form.send = sent
    form._handle_custom_msg({"type": "reject", "reason": None}, [])
    assert "sidebar" in sent.messages[0]["error"]
    assert form.request["status"] == "pending"


def test_a_callback_that_refreshes_the_form_keeps_its_record(sent: Sent) -> None:
    form: ApprovalForm

    def on_answer(answer: dict[str, Any]) -> None:
        form.refresh(request(status="answered", answer=answer, answered_by="ada@lab"))

    form = ApprovalForm(request(), on_answer=on_answer)
    form.send = sent
    form._handle_custom_msg({"type": "answer", "answer": {"approved": False}}, [])
    assert form.request["answered_by"] == "ada@lab"


def test_unknown_messages_are_ignored(sent: Sent) -> None:
    on_answer = Calls()
    form = ApprovalForm(request(), on_answer=on_answer)
    form.send = sent
    form._handle_custom_msg({"type": "answer", "answer": "not a dict"}, [])
    form._handle_custom_msg(["junk"], [])
    assert on_answer.values == [] and sent.messages == []


def test_refresh_shows_an_answer_given_elsewhere() -> None:
    form = ApprovalForm(request())
    form.refresh(request(status="expired"))
    assert form.request["status"] == "expired"
    data, _ = form._repr_mimebundle_()
    assert data["text/plain"] == "ApprovalForm: input 'review' of flow run 'calm-otter': expired"
