"""In a real JupyterLab: a headless deployment run suspends at a pause; answering it in
the sidebar's Approvals inbox resumes it, and a real worker executes it to Completed."""

from __future__ import annotations

import time
from typing import Any

import nbformat
import pytest

from tests.e2e.conftest import Lab
from tests.e2e.test_approval_in_lab import screenshot
from tests.e2e.test_promote import worker
from tests.e2e.test_sidebar import extension_on_path, open_sidebar
from tests.papermill_bridge.test_deployments import printed_text
from tests.papermill_bridge.test_server_api import call
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["extension_on_path", "worker"]  # fixtures, imported for pytest to find

pytestmark = pytest.mark.slow

CELLS = [
    ("%load_ext kernel_ext", []),
    ("factor = 2", ["parameters"]),
    ("%%task before\nvalue = 21 * factor", []),
    (
        "from kernel_ext import pause_flow_run\n"
        "ok = pause_flow_run(wait_for_input=bool, key='ship')\n"
        "print('SHIPPED' if ok else 'HELD', value)",
        [],
    ),
]


def write_notebook(lab: Lab) -> str:
    notebook = nbformat.v4.new_notebook()
    for source, tags in CELLS:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, lab.root / "gate.ipynb")
    return "gate.ipynb"


def wait_for_state(lab: Lab, run_id: str, state: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, run = call(lab.url, "GET", f"/taskbook/api/runs/{run_id}", token=lab.token)
        if status == 200 and run["state"] == state:
            return run  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"run is {run.get('state')}, not {state}"
        time.sleep(0.3)


def test_a_suspended_run_answered_in_the_inbox_completes(lab: Lab, page: Any, worker: Any) -> None:
    body = {"notebook": write_notebook(lab), "name": "gate"}
    status, _ = call(lab.url, "POST", "/taskbook/api/deployments", body, token=lab.token)
    assert status == 201
    status, run = call(
        lab.url,
        "POST",
        "/taskbook/api/deployments/gate/runs",
        {"parameters": {"factor": 3}},
        token=lab.token,
    )
    assert status == 201
    wait_for_state(lab, run["id"], "Suspended")

    sidebar = open_sidebar(page, lab)
    sidebar.locator(".tb-tab[data-view='approvals']").click()
    card = sidebar.locator(".tb-approval-card").first
    card.wait_for(timeout=15_000)
    assert "ship" in card.inner_text()
    card.locator("input[name='value']").check()
    screenshot(sidebar, "sidebar-suspended.png")
    card.locator("button.tb-primary").click()
    card.wait_for(state="detached", timeout=15_000)

    finished = wait_for_state(lab, run["id"], "Completed")
    with shared_store(lab.home) as store:
        output = store.read_flow_run(run["id"])["output_notebook"]
        history = [s["name"] for s in store.read_history(run["id"])]
    assert "SHIPPED 63" in printed_text(output)
    assert "Suspended" in history and "Resuming" in history
    sidebar.locator(".tb-tab[data-view='runs']").click()
    row = sidebar.locator(f".tb-row[data-run-id='{finished['id']}']")
    row.locator(".tb-pill", has_text="Completed").wait_for(timeout=15_000)
