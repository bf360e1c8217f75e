from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness
from tests.kernel_ext.widgets.browser import CHROMIUM, FLAGS, ORIGIN, XSRF, WidgetPage


@pytest.fixture
def home() -> Iterator[Path]:
    """A throwaway data directory and SQLite store (the widgets read what any store says)."""
    with taskbook_test_harness() as path:
        yield path


@pytest.fixture
def store(home: Path) -> Any:
    from kernel_ext.store import get_store

    return get_store()


class Sent:
    """Captures what a widget sends to the browser with ``widget.send``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, content: dict[str, Any], buffers: object = None) -> None:
        self.messages.append(content)


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium`.")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def widget_page(browser: Any) -> Iterator[WidgetPage]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.add_cookies([{"name": "_xsrf", "value": XSRF, "url": ORIGIN}])
    page = WidgetPage(context.new_page())
    yield page
    context.close()
    assert page.outside == [], "the widget requested something outside the page"
