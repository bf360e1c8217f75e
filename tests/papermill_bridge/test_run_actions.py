"""Retrying and deleting deployment runs, end to end: a real worker executes the notebook,
and the CLI gives the commands."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from papermill_bridge.cli import cli
from tests.papermill_bridge.test_deployments import home, store
from tests.store.helpers import count_rows

__all__ = ["home"]

pytestmark = pytest.mark.slow


def _flaky_notebook(folder: Path) -> Path:
    """Its first task cell counts its executions; the second fails until a flag exists."""
    count, flag = folder / "count.txt", folder / "flag"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext kernel_ext"),
        nbformat.v4.new_code_cell(
            f"%%task first\nimport pathlib\npathlib.Path({str(count)!r}).open('a').write('x')\n"
            "value = 41"
        ),
        nbformat.v4.new_code_cell(
            f"%%task second\nimport pathlib\nif not pathlib.Path({str(flag)!r}).exists():\n"
            "    raise RuntimeError('not yet')\nanswer = value + 1\nprint('answer', answer)"
        ),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = folder / "flaky.ipynb"
    nbformat.write(notebook, path)
    return path


def test_a_failed_run_is_retried_from_its_finished_cells_then_deleted(home: Path) -> None:
    from papermill_bridge import Worker, promote, start_run

    promote(_flaky_notebook(home), "flaky")
    run = start_run("flaky")
    assert Worker().run_once()
    failed = store().read_flow_run(run["id"])
    assert failed["state"] == "Failed" and "not yet" in (failed["state_message"] or "")

    (home / "flag").touch()
    retried = CliRunner().invoke(cli, ["runs", "retry", run["id"][:8]])
    assert retried.exit_code == 0, retried.output
    assert "queued again" in retried.output
    assert Worker().run_once()

    done = store().read_flow_run(run["id"])
    assert done["state"] == "Completed" and done["run_count"] == 2
    assert (home / "count.txt").read_text() == "x"  # the first cell came from its result
    history = [h["name"] for h in store().read_history(run["id"])]
    assert history[-4:] == ["AwaitingRetry", "Pending", "Running", "Completed"]
    again = CliRunner().invoke(cli, ["runs", "retry", run["id"]])
    assert again.exit_code == 1 and "only a run that failed" in again.output

    output = Path(done["output_notebook"] or "")
    assert output.is_file()
    url = store().url
    recorded = {table: count_rows(url, table) for table in ("task_runs", "logs", "results")}
    assert all(recorded.values()), recorded  # this run is all the store holds
    refused = CliRunner().invoke(cli, ["runs", "delete", run["id"]], input="n\n")
    assert refused.exit_code == 2 and "--yes" in refused.output  # nobody at a terminal
    deleted = CliRunner().invoke(cli, ["runs", "delete", run["id"], "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted run" in deleted.output
    assert not output.exists()
    assert store().list_flow_runs(name="flaky") == []
    left = {table: count_rows(url, table) for table in (*recorded, "state_history")}
    assert left == dict.fromkeys(left, 0)
