"""In a real JupyterLab: the scale-out example notebook runs its flow on a local Dask
cluster, and the live graph under the cell draws the task runs the workers executed.

Saves a screenshot of the graph (to ``TASKBOOK_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Lab, open_notebook, run_all
from tests.e2e.test_approval_in_lab import screenshot

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "scale_out.ipynb"


def test_a_dask_flow_is_drawn_live_in_the_notebook(lab: Lab, page: Any) -> None:
    shutil.copy(NOTEBOOK, lab.root / NOTEBOOK.name)
    open_notebook(page, lab, NOTEBOOK.name)
    run_all(page)
    summary = page.locator(".jp-OutputArea-output", has_text="waited for a slot")
    summary.wait_for(timeout=120_000)
    assert "Completed 16 task runs" in summary.inner_text()
    graph = page.locator(".tb-graph").first
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tb-graph-header .tb-pill')]"
        ".some(e => e.textContent.trim() === 'Completed')",
        timeout=30_000,
    )
    nodes = graph.locator("[data-node-id]")
    names = " ".join(nodes.evaluate_all("els => els.map(e => e.textContent)"))
    assert nodes.count() == 16 and "geocode-7" in names and "score-7" in names
    screenshot(graph, "dask-run-graph.png")
