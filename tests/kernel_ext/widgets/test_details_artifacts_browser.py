"""The graph's side panel draws a task run's artifacts, in headless Chromium, safely."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_ext import flow, task
from kernel_ext.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)
from kernel_ext.widgets._details import reply_details
from tests.kernel_ext.widgets.browser import WidgetPage

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

from kernel_ext.widgets import RunGraph

pytestmark = pytest.mark.slow

# A 1x1 PNG.
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@task
def publish() -> None:
    create_markdown_artifact(
        "# Revenue\nUp **4%** <img src=x onerror=alert(1)> [home](/lab) [x](javascript:alert(1))",
        key="revenue",
        description="weekly report",
    )
    create_table_artifact([{"region": "eu", "revenue": 12.5}, {"region": "<b>us</b>"}])
    create_table_artifact([[1, 2], [3, 4]], key="pairs")
    create_progress_artifact(42.5, key="load")
    create_link_artifact("https://example.com/dash", "Dashboard")
    create_image_artifact(PIXEL, key="chart")
    create_image_artifact("ftp://example.com/chart.png", key="elsewhere")


@flow
def publishing() -> None:
    publish()


def test_the_side_panel_draws_the_artifacts(store: Any, widget_page: WidgetPage) -> None:
    graph = RunGraph.for_next_flow_run()
    publishing()
    payload = dict(graph.graph)
    widget_page.mount("graph", {"graph": payload})
    page = widget_page.page
    page.click(".tb-node")
    node = payload["nodes"][0]
    reply = reply_details(store, node["id"], graph._name_of)
    page.evaluate("(reply) => window.model.emit('msg:custom', reply)", reply)
    panel = page.locator(".tb-panel")
    assert "Artifacts (7)" in panel.locator("h4").all_text_contents()
    sections = panel.locator(".tb-artifact")
    assert sections.count() == 7

    markdown = sections.nth(0)
    assert "revenue" in markdown.locator(".tb-artifact-head").inner_text()
    assert markdown.locator(".tb-artifact-description").inner_text() == "weekly report"
    assert markdown.locator("h5").inner_text() == "Revenue"  # under the panel's h4
    assert markdown.locator("strong").last.inner_text() == "4%"
    # Text stays text: no element from the HTML, no link but to http(s).
    assert markdown.locator(".tb-artifact-markdown img").count() == 0
    assert "<img src=x onerror=alert(1)>" in markdown.inner_text()
    assert markdown.locator("a").count() == 0
    assert "home" in markdown.inner_text()

    rows = sections.nth(1).locator("table")
    assert rows.locator("th").all_text_contents() == ["region", "revenue"]
    assert rows.locator("td").all_text_contents() == ["eu", "12.5", "<b>us</b>", ""]
    assert sections.nth(2).locator("th").count() == 0
    assert sections.nth(2).locator("td").all_text_contents() == ["1", "2", "3", "4"]

    progress = sections.nth(3).locator("progress")
    assert progress.get_attribute("value") == "42.5" and progress.get_attribute("max") == "100"
    assert sections.nth(3).locator(".tb-artifact-percent").inner_text() == "42.5%"

    link = sections.nth(4).locator("a")
    assert link.inner_text() == "Dashboard"
    assert link.get_attribute("href") == "https://example.com/dash"
    assert "noopener" in (link.get_attribute("rel") or "")

    image = sections.nth(5).locator("img")
    assert image.get_attribute("src") == PIXEL and image.get_attribute("alt") == "chart"
    image.scroll_into_view_if_needed()  # it loads lazily
    page.wait_for_function("document.querySelector('.tb-artifact-image').naturalWidth === 1")
    assert sections.nth(6).locator("img").count() == 0
    assert "ftp://example.com/chart.png" in sections.nth(6).inner_text()
    assert widget_page.errors == []
