"""In a real JupyterLab: the sidebar's Runs tab filters by state and by name, keeps its
filter across a reload, and pages to older runs. (A run's own tab: ``test_console``.)

Uses the built extension as ``test_sidebar`` does (skips when JupyterLab would not list it);
a screenshot goes to ``TASKBOOK_SCREENSHOTS`` when set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Lab
from tests.e2e.test_approval_in_lab import screenshot
from tests.e2e.test_sidebar import extension_on_path, open_sidebar
from tests.papermill_bridge.test_server_graph import flow_run_with_edges
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["extension_on_path"]  # the autouse fixture, imported for pytest to find

pytestmark = pytest.mark.slow


def failed_flow_run(home: Path) -> str:
    from kernel_ext import flow

    @flow(name="broken")
    def broken() -> None:
        raise RuntimeError("on purpose")

    with shared_store(home) as store:
        with pytest.raises(RuntimeError):
            broken()
        store.flush()
        return str(store.list_flow_runs(limit=1, name="broken")[0]["id"])


def test_filter_runs_by_state_and_name_and_keep_the_filter(lab: Lab, page: Any) -> None:
    run_id = flow_run_with_edges(lab.home)
    failed_id = failed_flow_run(lab.home)
    sidebar = open_sidebar(page, lab)

    row = sidebar.locator(f".tb-row[data-run-id='{run_id}']")
    failed = sidebar.locator(f".tb-row[data-run-id='{failed_id}']")
    row.wait_for(timeout=15_000)
    failed.wait_for(timeout=15_000)
    sidebar.locator("select.tb-state-filter").select_option("Completed")
    failed.wait_for(state="detached", timeout=10_000)
    assert "Completed" in row.inner_text()
    sidebar.locator("select.tb-state-filter").select_option("Crashed")  # every state is offered
    row.wait_for(state="detached", timeout=10_000)
    sidebar.locator("select.tb-state-filter").select_option("")
    sidebar.locator("input.tb-run-search").fill("brok")
    failed.wait_for(timeout=10_000)
    row.wait_for(state="detached", timeout=10_000)

    # The filter is kept in the browser: a reload shows the same list.
    sidebar = open_sidebar(page, lab)
    assert sidebar.locator("input.tb-run-search").input_value() == "brok"
    sidebar.locator(f".tb-row[data-run-id='{failed_id}']").wait_for(timeout=15_000)
    assert sidebar.locator(f".tb-row[data-run-id='{run_id}']").count() == 0
    sidebar.locator("input.tb-run-search").fill("")
    sidebar.locator(f".tb-row[data-run-id='{run_id}']").wait_for(timeout=10_000)
    screenshot(sidebar, "sidebar-runs-filter.png")


FULL_PAGE = "() => document.querySelectorAll('.tb-runs .tb-row').length === 50"


def test_older_runs_are_a_page_away(lab: Lab, page: Any) -> None:
    for _ in range(51):
        failed_flow_run(lab.home)
    sidebar = open_sidebar(page, lab)
    sidebar.locator("input.tb-run-search").fill("broken")
    rows = sidebar.locator(".tb-runs .tb-row")
    page.wait_for_function(
        "() => document.querySelectorAll('.tb-runs .tb-row').length === 50", timeout=15_000
    )
    first_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.runId)"))
    sidebar.locator("button.tb-older").click()
    page.wait_for_function(
        "ids => { const r = [...document.querySelectorAll('.tb-runs .tb-row')]; "
        "return r.length > 0 && r.every(x => !ids.includes(x.dataset.runId)); }",
        arg=list(first_page),
        timeout=15_000,
    )
    assert rows.count() >= 1
    sidebar.locator("button.tb-newer").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.tb-runs .tb-row').length === 50", timeout=15_000
    )
