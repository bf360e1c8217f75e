"""The bundled approval form in headless Chromium: generated fields, the server's API,
and the fallback to the kernel when there is no API."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from tests.kernel_ext.widgets.browser import XSRF, WidgetPage

pytestmark = pytest.mark.slow


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Review(BaseModel):
    """Is the report right?"""

    approved: bool = Field(title="Approved", description="Tick to publish")
    comment: str = Field("", max_length=500, description="Why")
    count: int = Field(3, ge=1, le=10)
    ratio: float = 0.5
    colour: Literal["red", "green"] = "red"
    size: Size = Size.LARGE
    note: str | None = None
    tags: list[str] = []


DESCRIPTION = """# Review the numbers
Please **check** the `totals` and _then_ decide; see [the docs](https://example.org/docs).

- first <script>window.hacked = true</script>
- second [bad](javascript:alert(1))
"""


def request(schema: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "id": "req-1",
        "flow_run_id": "0123456789",
        "flow_run_name": "calm-otter",
        "key": "review",
        "description": DESCRIPTION,
        "schema": Review.model_json_schema() if schema is None else schema,
        "status": "pending",
        "error": None,
        "answer": None,
        "answered_by": None,
        "answered_at": None,
        "flow_name": "etl",
        "timeout_at": None,
        **changes,
    }


def reply(status: int, body: Any, content_type: str = "application/json") -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return lambda route: route.fulfill(status=status, content_type=content_type, body=text)


def test_fields_are_generated_from_the_schema(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request()})
    page = widget_page.page
    form = page.locator(".tb-form")
    assert form.locator("input[name=approved]").get_attribute("type") == "checkbox"
    assert form.locator("textarea[name=comment]").count() == 1  # maxLength > 200
    count = form.locator("input[name=count]")
    assert (count.get_attribute("min"), count.get_attribute("max")) == ("1", "10")
    assert count.input_value() == "3"
    assert form.locator("input[name=ratio]").get_attribute("step") == "any"
    assert form.locator("select[name=colour] option").all_text_contents() == ["red", "green"]
    assert form.locator("select[name=size] option:checked").text_content() == "large"
    assert form.locator("input[name=note]").get_attribute("type") == "text"
    assert form.locator("textarea[name=tags]").input_value() == "[]"
    assert "Tick to publish" in form.locator(".tb-field").first.inner_text()
    assert page.locator("button[type=submit]").text_content() == "Submit"


def test_the_description_is_safe_markdown(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request()})
    page = widget_page.page
    description = page.locator(".tb-description")
    assert description.locator("h3").text_content() == "Review the numbers"
    assert description.locator("strong").text_content() == "check"
    assert description.locator("code").text_content() == "totals"
    assert description.locator("em").text_content() == "then"
    assert description.locator("a").count() == 1
    assert description.locator("a").get_attribute("href") == "https://example.org/docs"
    assert description.locator("script").count() == 0
    assert "<script>" in description.locator("li").first.text_content()
    assert "[bad](javascript:alert(1))" in description.locator("li").nth(1).text_content()
    assert page.evaluate("window.hacked") is None


def test_an_answer_goes_to_the_server_and_its_error_is_shown(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request()})
    page = widget_page.page
    widget_page.api = reply(400, {"message": "count: must be at most 5"})
    page.check("input[name=approved]")
    page.fill("textarea[name=tags]", '["a", "b"]')
    page.click("button[type=submit]")
    page.wait_for_selector(".tb-error:has-text('count: must be at most 5')")
    (post,) = widget_page.posts
    assert post["url"].endswith("/base/taskbook/api/inputs/req-1/answer")
    assert post["headers"]["x-xsrftoken"] == XSRF
    assert post["body"] == {
        "answer": {  # the empty comment is left out: its default applies
            "approved": True,
            "count": 3,
            "ratio": 0.5,
            "colour": "red",
            "size": "large",
            "tags": ["a", "b"],
        }
    }
    record = {
        **request(),
        "status": "answered",
        "answered_by": "ada (JupyterLab)",
        "answered_at": "2026-11-25T10:00:00+00:00",
        "answer": post["body"]["answer"],
    }
    widget_page.api = reply(200, record)
    page.click("button[type=submit]")
    page.wait_for_selector(".tb-status:has-text('Answered by ada (JupyterLab)')")
    assert page.locator(".tb-error").text_content() == ""
    assert page.locator("input[name=approved]").is_disabled()  # by its fieldset
    assert page.locator("button[type=submit]").is_disabled()
    state = page.evaluate("[window.model.state.request.status, window.model.saved]")
    assert state == ["answered", 1]  # the kernel's trait follows
    assert widget_page.errors == [] or all("400" in e for e in widget_page.errors)


def test_without_the_server_api_the_answer_goes_to_the_kernel(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request(schema={})})
    page = widget_page.page
    widget_page.api = reply(404, "<h1>404: Not Found</h1>", "text/html")
    assert page.locator("button[type=submit]").text_content() == "Resume"
    page.click("button[type=submit]")
    page.wait_for_function("window.model.sent.length === 1")
    assert page.evaluate("window.model.sent") == [{"type": "answer", "answer": {}}]
    assert page.locator("button[type=submit]").is_disabled()  # until the kernel replies
    message = {"type": "result", "action": "answer", "error": "the run ended already"}
    page.evaluate("(m) => window.model.emit('msg:custom', m)", message)
    assert page.locator(".tb-error").text_content() == "the run ended already"
    assert page.locator("button[type=submit]").is_enabled()


def test_a_json_404_is_an_error_not_a_fallback(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request(schema={})})
    widget_page.api = reply(404, {"message": "No input request req-1; see `taskbook approvals`."})
    widget_page.page.click("button[type=submit]")
    widget_page.page.wait_for_selector(".tb-error:has-text('No input request')")
    assert widget_page.page.evaluate("window.model.sent") == []


def test_rejecting_asks_for_a_reason(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request()})
    page = widget_page.page
    assert not page.locator(".tb-reason").is_visible()
    page.click("button.tb-danger")
    page.fill(".tb-reason", "numbers are off")
    widget_page.api = reply(
        200,
        {
            **request(),
            "status": "rejected",
            "answered_by": "bob",
            "answer": {"reason": "numbers are off"},
        },
    )
    page.click("button.tb-danger")
    page.wait_for_selector(".tb-status:has-text('Rejected by bob')")
    assert "numbers are off" in page.locator(".tb-status").text_content()
    (post,) = widget_page.posts
    assert post["url"].endswith("/inputs/req-1/reject")
    assert post["body"] == {"reason": "numbers are off"}


def test_an_expired_or_refreshed_request_disables_the_form(widget_page: WidgetPage) -> None:
    widget_page.mount("approval", {"request": request(error="approved: field required")})
    page = widget_page.page
    assert page.locator(".tb-error").text_content() == "approved: field required"
    typed = "kept while the request refreshes"
    page.fill("textarea[name=comment]", typed)
    refreshed = request(timeout_at="2030-01-01T00:00:00Z")
    page.evaluate("(r) => window.model.set('request', r)", refreshed)
    assert page.locator("textarea[name=comment]").input_value() == typed
    assert "Expires at" in page.locator(".tb-status").text_content()
    page.evaluate("(r) => window.model.set('request', r)", request(status="expired"))
    assert "expired" in page.locator(".tb-status").text_content()
    assert page.locator("button[type=submit]").is_disabled()
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listeners()") == 0
