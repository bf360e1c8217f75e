"""In a real JupyterLab: the sidebar's Runs tab filters by state and shows a run's graph
and logs, drawn by the notebook widget's own graph code from ``GET runs/{id}/graph``.

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


def test_filter_runs_and_see_a_runs_graph_and_logs(lab: Lab, page: Any) -> None:
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
    row.click()

    graph = sidebar.locator(".tb-run-details .tb-run-graph")
    nodes = graph.locator("[data-node-id]")
    nodes.first.wait_for(timeout=10_000)
    assert nodes.count() == 5
    assert graph.locator(".tb-edges path").count() == 6  # load -> 3 squares -> total
    names = " ".join(nodes.all_text_contents())
    for name in ("load", "square", "total"):
        assert name in names
    logs = sidebar.locator(".tb-run-details .tb-run-logs .tb-log-line")
    logs.filter(has_text="summing the squares").first.wait_for(timeout=10_000)

    box = graph.bounding_box()
    panel = sidebar.bounding_box()
    assert box is not None and panel is not None
    assert box["x"] >= panel["x"] - 1 and box["x"] + box["width"] <= panel["x"] + panel["width"] + 1
    screenshot(sidebar, "sidebar-run-graph.png")


def test_a_failed_run_shows_its_traceback(lab: Lab, page: Any) -> None:
    failed_id = failed_flow_run(lab.home)
    sidebar = open_sidebar(page, lab)
    failed = sidebar.locator(f".tb-row[data-run-id='{failed_id}']")
    failed.wait_for(timeout=15_000)
    failed.click()
    failure = sidebar.locator(".tb-run-details .tb-failure")
    failure.wait_for(timeout=10_000)
    assert failure.locator(".tb-failure-title").inner_text() == "RuntimeError"
    traceback = failure.locator(".tb-traceback").inner_text()
    assert 'raise RuntimeError("on purpose")' in traceback
    assert traceback.rstrip().endswith("RuntimeError: on purpose")
