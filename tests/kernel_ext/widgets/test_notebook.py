"""A live graph in a real kernel (nbclient, as papermill runs notebooks): the output saved
in the notebook is the finished graph, both as widget state and as the static SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

pytest.importorskip("anywidget", reason="the widgets need anywidget (pip install anywidget)")

pytestmark = pytest.mark.slow

CELL = """
from kernel_ext import flow, task
from kernel_ext.widgets import RunGraph

@task
def inc(x):
    return x + 1

@flow
def pipeline(n):
    return sum(inc.map(range(n)).result())

graph = RunGraph.for_next_flow_run()
display(graph)
pipeline(100)
print("model", graph.model_id)
"""


def test_the_saved_output_is_the_finished_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("TASKBOOK_HOME", str(tmp_path))
    monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    outputs = notebook.cells[0].outputs
    printed = "".join(o["text"] for o in outputs if o.get("name") == "stdout")
    model_id = printed.split("model ")[-1].split()[0]  # (the flow's log lines come first)
    (shown,) = [o for o in outputs if _model_of(o) == model_id]
    assert "inc \N{MULTIPLICATION SIGN}100" in shown["data"]["image/svg+xml"]
    assert "Completed" in shown["data"]["text/plain"]
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    graph = state[model_id]["state"]["graph"]
    assert graph["final"] is True
    assert [(n["name"], n["done"]) for n in graph["nodes"]] == [("inc", 100)]


def _model_of(output: Any) -> str | None:
    view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
    return view["model_id"] if view else None
