"""In a real JupyterLab: the Taskbook sidebar lists the store's runs and answers input requests.

The prebuilt extension (``npm run build``) is put on ``JUPYTER_PATH`` for this module's
JupyterLab, so the test also runs from a checkout where the package is not installed; it
skips when that JupyterLab would not list ``taskbook``. The ``page`` fixture fails the test
on any request beyond 127.0.0.1; screenshots go to ``TASKBOOK_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Lab
from tests.e2e.test_approval_in_lab import screenshot
from tests.papermill_bridge.test_deployments import write_notebook
from tests.papermill_bridge.test_server_api import call, pending_request
from tests.papermill_bridge.test_server_runs import finished_flow_run

pytestmark = pytest.mark.slow

BUILT = Path(__file__).resolve().parents[2] / "papermill_bridge" / "labextension"
SCHEMA = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "ids": {"type": "array", "items": {"type": "integer"}, "title": "Row ids"},
    },
    "required": ["approved", "ids"],
    "additionalProperties": False,
}


def lists_taskbook(env: dict[str, str]) -> bool:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "taskbook v" in listed.stdout + listed.stderr


@pytest.fixture(scope="module", autouse=True)
def extension_on_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs before ``lab`` (autouse), so the server it starts sees the built extension."""
    previous = os.environ.get("JUPYTER_PATH")
    if (BUILT / "package.json").exists():
        data = tmp_path_factory.mktemp("jupyter-data")
        (data / "labextensions").mkdir()
        (data / "labextensions" / "taskbook").symlink_to(BUILT, target_is_directory=True)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(data), previous]))
    try:
        if not lists_taskbook(dict(os.environ)):
            pytest.skip(
                "JupyterLab does not list the `taskbook` extension: build it with "
                "`npm run build` (or install the package that ships it)."
            )
        yield
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous


def open_sidebar(page: Any, lab: Lab) -> Any:
    page.goto(f"{lab.url}/lab?token={lab.token}")
    tab = page.locator(".jp-SideBar.jp-mod-left [data-id='taskbook-sidebar']")
    tab.wait_for(timeout=60_000)
    tab.click()
    sidebar = page.locator("#taskbook-sidebar")
    sidebar.wait_for(state="visible", timeout=10_000)
    return sidebar


def test_runs_and_approvals_in_the_sidebar(lab: Lab, page: Any) -> None:
    run_id = finished_flow_run(lab.home)
    write_notebook(lab.root)
    status, created = call(
        lab.url,
        "POST",
        "/taskbook/api/deployments",
        {"notebook": "greet.ipynb", "name": "greet", "cron": "0 6 * * *"},
        token=lab.token,
    )
    assert status == 201, created
    # A request of a run that is still waiting (a finished run's requests are not listed).
    request_id = pending_request(lab.home, SCHEMA)
    sidebar = open_sidebar(page, lab)

    row = sidebar.locator(f".tb-row[data-run-id='{run_id}']")
    row.wait_for(timeout=15_000)
    assert "arithmetic" in row.inner_text() and "Completed" in row.inner_text()
    row.click()
    task = page.locator(f"#taskbook-run-{run_id} .tb-tab", has_text="Task runs")
    task.click(timeout=15_000)
    details = page.locator(f"#taskbook-run-{run_id} .tb-task-table tr", has_text="double")
    details.first.wait_for(timeout=10_000)
    assert "Completed" in details.first.inner_text()
    screenshot(sidebar, "sidebar-runs.png")

    sidebar.locator(".tb-tab[data-view='approvals']").click()
    card = sidebar.locator(f".tb-approval-card[data-request-id='{request_id}']")
    card.wait_for(timeout=15_000)
    assert "Check it" in card.inner_text()
    card.locator("input[name='approved']").check()
    card.locator("[name='ids']").fill('["x"]')
    card.locator("button.tb-primary").click()
    error = card.locator(".tb-error")
    page.wait_for_function(
        "e => e.textContent.includes('is not of type')", arg=error.element_handle(), timeout=10_000
    )
    screenshot(sidebar, "sidebar-approvals.png")

    card.locator("[name='ids']").fill("[1, 2]")
    card.locator("button.tb-primary").click()
    card.wait_for(state="detached", timeout=10_000)
    sidebar.locator(".tb-approvals .tb-notice", has_text="No run is waiting").wait_for(
        timeout=10_000
    )

    sidebar.locator(".tb-tab[data-view='deployments']").click()
    card = sidebar.locator(".tb-card[data-deployment='greet']")
    card.wait_for(timeout=10_000)
    card.locator("button", has_text="Run now").click()
    card.locator(".tb-run-message", has_text="Started").wait_for(timeout=10_000)
    sidebar.locator(".tb-tab[data-view='runs']").click()
    # No worker runs here: the new run stays Scheduled (a deployment's "last run" is one
    # that left Scheduled, so the card's pill does not change).
    sidebar.locator(".tb-row", has_text="greet").locator(
        ".tb-pill", has_text="Scheduled"
    ).first.wait_for(timeout=10_000)
    sidebar.locator(".tb-tab[data-view='deployments']").click()
    card.wait_for(timeout=10_000)
    screenshot(sidebar, "sidebar-deployments.png")
    if os.environ.get("TASKBOOK_SCREENSHOTS"):
        page.evaluate(
            "() => window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'})"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)
        screenshot(sidebar, "sidebar-deployments-dark.png")
