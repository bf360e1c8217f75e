"""In a real JupyterLab: promote a notebook to a deployment, run it with a new parameter.

The notebook toolbar's "Promote to deployment" command saves the notebook and asks for a
name, a schedule and the parameters; the Deployments view's "Run with parameters…" starts
a run that a real worker (started here) executes; the output notebook in the store has the
new parameter's output. Screenshots go to ``TASKBOOK_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.e2e.conftest import Lab, open_notebook
from tests.e2e.test_approval_in_lab import screenshot
from tests.e2e.test_sidebar import extension_on_path
from tests.papermill_bridge.test_deployments import printed_text
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["extension_on_path"]  # the autouse fixture, imported for pytest to find

pytestmark = pytest.mark.slow

NOTEBOOK = "hello.ipynb"


def write_notebook(root: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('greeting = "hello"')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell('print(f"{greeting} from a deployment")'),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, root / NOTEBOOK)
    return NOTEBOOK


@pytest.fixture(scope="module")
def worker(lab: Lab) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker on the lab's store, stopped at the end of the module."""
    taskbook = shutil.which("taskbook", path=str(Path(sys.executable).parent)) or "taskbook"
    env = {**os.environ, "TASKBOOK_HOME": str(lab.home)}
    env.pop("TASKBOOK_STORE_URL", None)
    log = (lab.home.parent / "worker.log").open("wb")
    process = subprocess.Popen(
        [taskbook, "worker", "--poll", "0.2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=lab.root,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_promote_then_run_with_parameters(lab: Lab, page: Any, worker: Any) -> None:
    open_notebook(page, lab, write_notebook(lab.root))
    assert page.evaluate("() => window.jupyterapp.commands.hasCommand('taskbook:promote')")
    # The notebook toolbar's button runs the same code as the command.
    button = page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='taskbookPromote']")
    button.wait_for(timeout=10_000)
    button.locator("button, jp-button").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".tb-promote").wait_for(timeout=15_000)
    assert dialog.locator("input[name='name']").input_value() == "hello"
    assert dialog.locator("input[name='greeting']").input_value() == "hello"

    # The cron field is checked as one types; the server has the last word.
    dialog.locator("select[name='schedule']").select_option("cron")
    dialog.locator("input[name='cron']").fill("0 25 * * *")
    dialog.locator(".tb-cron-message.tb-error").wait_for(timeout=5_000)
    assert dialog.locator("button.jp-mod-accept").is_disabled()
    dialog.locator("select[name='preset']").select_option("0 9 * * 1-5")
    assert dialog.locator("input[name='cron']").input_value() == "0 9 * * 1-5"
    assert not dialog.locator("button.jp-mod-accept").is_disabled()
    screenshot(dialog.locator(".jp-Dialog-content"), "promote-dialog.png")

    dialog.locator("select[name='schedule']").select_option("none")
    dialog.locator("input[name='name']").fill("hello-e2e")
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=10_000)
    page.locator(".jp-toast-message, .Toastify__toast", has_text="hello-e2e").first.wait_for(
        timeout=10_000
    )

    page.locator(".jp-SideBar.jp-mod-left [data-id='taskbook-sidebar']").click()
    sidebar = page.locator("#taskbook-sidebar")
    sidebar.wait_for(state="visible", timeout=10_000)
    sidebar.locator(".tb-tab[data-view='deployments']").click()
    card = sidebar.locator(".tb-card[data-deployment='hello-e2e']")
    card.wait_for(timeout=15_000)
    assert "No schedule" in card.inner_text()
    card.locator("button", has_text="Pause").click()
    card.locator(".tb-pill", has_text="Paused").wait_for(timeout=10_000)
    card.locator("button", has_text="Resume").click()
    card.locator("button", has_text="Pause").wait_for(timeout=10_000)
    assert card.locator(".tb-pill", has_text="Paused").count() == 0

    card.locator("button", has_text="Run with parameters").click()
    dialog = page.locator(".jp-Dialog")
    greeting = dialog.locator("input[name='greeting']")
    greeting.wait_for(timeout=10_000)
    assert greeting.input_value() == "hello"
    greeting.fill("bonjour")
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=10_000)
    card.locator(".tb-run-message", has_text="Started").wait_for(timeout=10_000)

    sidebar.locator(".tb-tab[data-view='runs']").click()
    row = sidebar.locator(".tb-row", has_text="hello-e2e").first
    row.locator(".tb-pill", has_text="Completed").wait_for(timeout=120_000)
    run_id = row.get_attribute("data-run-id")
    assert run_id

    with shared_store(lab.home) as store:
        output = store.read_flow_run(run_id)["output_notebook"]
    assert output, "the run has no output notebook"
    assert "bonjour from a deployment" in printed_text(output)

    # The output notebook lives outside the server's root: the console has the server copy
    # it under the root, then opens that copy in a notebook tab.
    row.click()
    link = page.locator(f"#taskbook-run-{run_id} button.tb-open-output")
    link.wait_for(timeout=15_000)
    link.click()
    copy = f"taskbook-outputs/hello-e2e/{run_id}.ipynb"
    page.locator(".jp-OutputArea-output", has_text="bonjour from a deployment").first.wait_for(
        timeout=30_000
    )
    assert (lab.root / copy).is_file()
    screenshot(page.locator(".jp-LabShell"), "promote-output-notebook.png")

    # The output notebook names its run: its toolbar opens the run's tab again.
    page.locator(".jp-NotebookPanel:visible .tb-open-run-button").click(timeout=15_000)
    page.locator(f"#taskbook-run-{run_id} .tb-run-title", has_text="Completed").wait_for(
        timeout=15_000
    )
