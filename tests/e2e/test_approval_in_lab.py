"""In a real JupyterLab: a cell's flow pauses, the inline form answers it, the run ends.

Also checks that the page never reaches beyond 127.0.0.1 (the ``page`` fixture), and saves
screenshots of the form and the graph (to ``TASKBOOK_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.e2e.conftest import Lab, open_notebook, run_all

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext kernel_ext\nfrom pydantic import Field\nfrom kernel_ext import RunInput, flow, "
    "pause_flow_run, task",
    '''class ReviewInput(RunInput):
    """Please check the **scores** before they are published."""

    approved: bool
    feedback: str = ""
    confidence: int = Field(3, ge=1, le=5, description="1 (unsure) to 5 (certain)")


@task
def load(n: int) -> list[int]:
    return list(range(n))


@task
def score(x: int) -> int:
    return x * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def publish(n: int = 4) -> str:
    scores = score.map(load(n))
    total(scores)
    review = pause_flow_run(wait_for_input=ReviewInput, timeout=300, key="review",
                            poll_interval=0.2)
    return f"DONE approved={review.approved} confidence={review.confidence} " + review.feedback''',
    "print(publish())",
]


def write_notebook(root: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, root / "review.ipynb")
    return "review.ipynb"


def screenshot(element: Any, name: str) -> None:
    folder = os.environ.get("TASKBOOK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        element.screenshot(path=str(Path(folder) / name))


def test_pause_is_answered_in_the_inline_form(lab: Lab, page: Any) -> None:
    open_notebook(page, lab, write_notebook(lab.root))
    run_all(page)
    form = page.locator(".tb-approval").first
    form.wait_for(timeout=90_000)
    assert "scores" in form.locator(".tb-description").inner_text()
    screenshot(form, "approval-form.png")

    confidence = form.locator("input[name='confidence']")
    confidence.fill("9")
    form.locator("button.tb-primary").click()
    page.wait_for_timeout(700)
    rejected_natively = confidence.evaluate("e => !e.checkValidity()")
    error_text = form.locator(".tb-error").inner_text()
    assert rejected_natively or "less than or equal" in error_text
    assert "Answered" not in form.locator(".tb-status").inner_text()

    confidence.fill("4")
    form.locator("input[name='approved']").check()
    form.locator("[name='feedback']").fill("looks right")
    form.locator("button.tb-primary").click()

    output = page.locator(".jp-OutputArea-output", has_text="DONE approved=True")
    output.wait_for(timeout=60_000)
    assert "confidence=4 looks right" in output.inner_text()
    graph = page.locator(".tb-graph").first
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tb-graph-header .tb-pill')]"
        ".some(e => e.textContent.trim() === 'Completed')",
        timeout=30_000,
    )
    assert graph.locator("[data-node-id]").count() >= 1
    screenshot(graph, "run-graph.png")
