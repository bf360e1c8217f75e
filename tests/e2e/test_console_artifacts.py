"""In a real JupyterLab and headless Chromium: a run's artifacts on its console page.

A flow run in this process (on the store the server reads) and a ``%%task`` cell in a
real kernel publish markdown, tables, a progress bar, a link and an image; the run's page
draws them (markdown through JupyterLab's sanitizing renderer), and a progress update
made while the page is open shows without a reload. Every request stays on 127.0.0.1
(the ``page`` fixture). A screenshot goes to ``TASKBOOK_SCREENSHOTS`` when set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest

from tests.e2e.conftest import Lab, open_notebook, run_all
from tests.e2e.test_approval_in_lab import screenshot
from tests.e2e.test_console import open_run
from tests.e2e.test_sidebar import extension_on_path
from tests.papermill_bridge.test_server_graph import flow_run_with_edges
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["extension_on_path"]  # the autouse fixture, imported for pytest to find

pytestmark = pytest.mark.slow

REPORT = """# Revenue

Up **4%** on last week, driven by [the EU launch](https://example.com/eu).

- EU: 12.5 k
- US: 30.1 k
"""
# Neither runs: JupyterLab's sanitizer drops the script and the handler.
UNTRUSTED = """Untrusted HTML:
<script>window.tbInjected = "script"</script>
<img src="data:," onerror="window.tbInjected = 'onerror'">
"""
BARS = "".join(
    f'<rect x="{8 + 36 * i}" y="{60 - h}" width="28" height="{h}" fill="#1976d2"/>'
    for i, h in enumerate([22, 30, 26, 41, 52])
)
CHART = "data:image/svg+xml," + quote(
    f'<svg xmlns="http://www.w3.org/2000/svg" width="190" height="64">{BARS}</svg>'
)


def flow_run_with_artifacts(lab: Lab) -> str:
    """A flow, a task and a subflow that publish every kind of artifact; the run's id."""
    from kernel_ext import flow, task
    from kernel_ext.artifacts import (
        create_image_artifact,
        create_link_artifact,
        create_markdown_artifact,
        create_progress_artifact,
        create_table_artifact,
        update_progress_artifact,
    )

    @task
    def regions() -> None:
        rows = [{"region": "eu", "revenue": 12.5}, {"region": "us", "revenue": 30.1}]
        create_table_artifact(rows, key="revenue-by-region", description="Per region")

    @flow(name="appendix")
    def appendix() -> None:
        create_markdown_artifact("## Appendix\nMethod notes.", key="appendix")

    @flow(name="weekly-revenue")
    def weekly_revenue() -> None:
        create_markdown_artifact(REPORT, key="revenue-report", description="For the Monday call")
        load = create_progress_artifact(10, key="revenue-load")
        regions()
        update_progress_artifact(load, 62.5)
        create_link_artifact("https://example.com/dashboards/revenue", "Revenue dashboard")
        create_image_artifact(CHART, key="revenue-chart", description="Revenue by week")
        create_table_artifact({"day": list(range(150)), "orders": [d * 3 for d in range(150)]})
        create_markdown_artifact(UNTRUSTED, key="untrusted")
        appendix()

    with shared_store(lab.home) as store:
        weekly_revenue()
        store.flush()
        return str(store.list_flow_runs(limit=1, name="weekly-revenue")[0]["id"])


def open_artifacts(page: Any, lab: Lab, run_id: str) -> Any:
    panel = open_run(page, lab, run_id)
    panel.locator(".tb-tab", has_text="Artifacts").click()
    return panel.locator(".tb-artifacts")


def test_a_flow_runs_artifacts_on_its_page(lab: Lab, page: Any) -> None:
    run_id = flow_run_with_artifacts(lab)
    artifacts = open_artifacts(page, lab, run_id)
    sections = artifacts.locator(".tb-artifact")
    sections.nth(7).wait_for(timeout=15_000)
    assert sections.count() == 8
    panel = page.locator(f"#taskbook-run-{run_id}")
    assert panel.locator(".tb-tab", has_text="Artifacts (8)").count() == 1
    assert artifacts.locator("h3").all_inner_texts() == [
        "revenue-report markdown",
        "revenue-load progress",
        "revenue-by-region table",
        "Untitled markdown",  # the link: stored as markdown, with no key
        "revenue-chart image",
        "Untitled table",
        "untrusted markdown",
        "appendix markdown",
    ]

    # Markdown through JupyterLab's renderer: a heading, a link, a list.
    report = sections.nth(0)
    rendered = report.locator(".jp-RenderedMarkdown")
    assert rendered.locator("h1").inner_text().startswith("Revenue")
    assert rendered.locator("strong").inner_text() == "4%"
    assert rendered.locator("a[href='https://example.com/eu']").inner_text() == "the EU launch"
    assert rendered.locator("li").all_inner_texts() == ["EU: 12.5 k", "US: 30.1 k"]
    assert "For the Monday call" in report.locator(".tb-artifact-description").inner_text()
    assert "This flow run" in report.locator(".tb-artifact-meta").inner_text()

    progress = sections.nth(1)
    assert progress.locator("progress").get_attribute("value") == "62.5"
    assert progress.locator(".tb-artifact-percent").inner_text() == "62.5%"
    assert "updated" in progress.locator(".tb-artifact-meta").inner_text()

    table = sections.nth(2)
    assert table.locator("th").all_inner_texts() == ["region", "revenue"]
    assert table.locator("td").all_inner_texts() == ["eu", "12.5", "us", "30.1"]
    link = sections.nth(3).locator("a")
    assert link.inner_text() == "Revenue dashboard"
    assert link.get_attribute("href") == "https://example.com/dashboards/revenue"
    image = sections.nth(4).locator("img")
    assert image.get_attribute("src") == CHART
    assert image.get_attribute("alt") == "Revenue by week"
    page.wait_for_function(
        "() => document.querySelector('.tb-artifact-image')?.naturalWidth === 190"
    )
    days = sections.nth(5)
    assert days.locator("tbody tr").count() == 100
    assert days.locator(".tb-artifact-more").inner_text() == "50 more rows"

    untrusted = sections.nth(6).locator(".jp-RenderedMarkdown")
    assert "Untrusted HTML" in untrusted.inner_text()
    assert untrusted.locator("script").count() == 0
    assert untrusted.locator("[onerror]").count() == 0
    assert page.evaluate("window.tbInjected") is None

    # The subflow's artifact says where it came from.
    assert "of subflow" in sections.nth(7).locator(".tb-artifact-meta").inner_text()
    page.evaluate("() => window.jupyterapp.shell.activateById('taskbook-sidebar')")
    page.locator(".tb-sidebar .tb-row").first.wait_for(timeout=15_000)
    screenshot(page, "console-artifacts.png")

    # The task run that made the table: a link to its row in Task runs.
    table.locator(".tb-artifact-meta a", has_text="regions-0").click()
    selected = panel.locator(".tb-task-table tr.tb-selected")
    selected.wait_for(timeout=10_000)
    assert "regions-0" in selected.inner_text()


def test_a_run_without_artifacts_says_so(lab: Lab, page: Any) -> None:
    run_id = flow_run_with_edges(lab.home)
    artifacts = open_artifacts(page, lab, run_id)
    artifacts.locator(".tb-notice", has_text="No artifacts.").wait_for(timeout=15_000)


CELLS = [
    "%load_ext kernel_ext\nfrom kernel_ext.artifacts import create_markdown_artifact, "
    "create_progress_artifact, create_table_artifact, update_progress_artifact",
    "%%task report\n"
    'create_markdown_artifact("# Cell report\\nFrom a task cell.", key="cell-report")\n'
    'create_table_artifact([["a", 1], ["b", 2]], key="cell-table")\n'
    'progress = create_progress_artifact(20, key="cell-progress")',
]


def write_notebook(root: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, root / "cell_artifacts.ipynb")
    return "cell_artifacts.ipynb"


def run_in_kernel(page: Any, code: str) -> None:
    """Execute ``code`` in the notebook's kernel, as a cell would, leaving the page as it is."""
    page.evaluate(
        """async (code) => {
          const sessions = window.jupyterapp.serviceManager.sessions;
          await sessions.refreshRunning();
          const [model] = [...sessions.running()];
          const session = sessions.connectTo({ model });
          const reply = await session.kernel.requestExecute({ code }).done;
          session.dispose();
          if (reply.content.status !== "ok") throw new Error(JSON.stringify(reply.content));
        }""",
        code,
    )


def session_run_of(lab: Lab, key: str) -> str:
    with shared_store(lab.home) as store:
        (artifact,) = store.list_artifacts(key=key)
        return str(artifact["flow_run_id"])


def test_a_task_cells_artifacts_follow_the_live_run(lab: Lab, page: Any) -> None:
    open_notebook(page, lab, write_notebook(lab.root))
    run_all(page)
    # Under the cell that made it, too.
    output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea")
    output.locator("h1", has_text="Cell report").wait_for(timeout=90_000)
    run_id = session_run_of(lab, "cell-report")

    page.evaluate(
        "(id) => { window.tbPage = 'same'; window.jupyterapp.commands.execute("
        "'taskbook:open-run', { id }); }",
        run_id,
    )
    panel = page.locator(f"#taskbook-run-{run_id}")
    panel.locator(".tb-run-title").wait_for(timeout=30_000)
    assert "Running" in panel.locator(".tb-run-title").inner_text()  # the kernel's session
    panel.locator(".tb-tab", has_text="Artifacts").click()
    sections = panel.locator(".tb-artifact")
    sections.nth(2).wait_for(timeout=15_000)
    assert sections.nth(0).locator("h1").inner_text().startswith("Cell report")
    assert "report" in sections.nth(0).locator(".tb-artifact-meta a").inner_text()
    assert sections.nth(1).locator("td").all_inner_texts() == ["a", "1", "b", "2"]
    bar = sections.nth(2).locator("progress")
    assert bar.get_attribute("value") == "20"

    run_in_kernel(page, "update_progress_artifact(progress, 80)")
    panel.locator(".tb-artifact progress[value='80']").wait_for(timeout=15_000)
    assert panel.locator(".tb-artifact-percent").inner_text() == "80%"
    assert page.evaluate("window.tbPage") == "same"  # no reload
    # The sections that did not change were left as they were.
    assert sections.count() == 3
