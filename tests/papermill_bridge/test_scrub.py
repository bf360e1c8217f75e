"""Masking secrets in a deployment run's output notebook and outcome: as values, so what
is written stays a notebook (and JSON) whatever the secrets are, and in each save papermill
makes, so no copy with a secret in it is ever at the output path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from kernel_ext import _redaction
from kernel_ext._states import Failed
from kernel_ext.testing import taskbook_test_harness
from papermill_bridge import RunOutcome
from papermill_bridge._scrub import scrub_notebook, scrubbed_output

QUOTES = "ab\\cd'ef\"gh"  # a backslash and both quotes: a printed dict escapes them
PNG = "iVBORw0KGgo20240101codeAAAA"  # base64 that happens to hold a secret's text


@pytest.fixture(autouse=True)
def _mask_nothing_before_or_after() -> Iterator[None]:
    _redaction.forget_all()
    yield
    _redaction.forget_all()


def a_run_notebook() -> nbformat.NotebookNode:
    """An output notebook as papermill writes one: injected cells, outputs of each kind."""
    nb = nbformat.v4.new_notebook()
    attach = nbformat.v4.new_code_cell("import kernel_ext.deployment")
    attach.metadata = {"tags": ["injected-taskbook"], "jupyter": {"source_hidden": True}}
    parameters = nbformat.v4.new_code_cell("day = 20240101\npin = '20240101'\n")
    parameters.metadata["tags"] = ["injected-parameters"]
    cell = nbformat.v4.new_code_cell("print(password)", execution_count=3)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=f"pin 20240101 pw {QUOTES}\n"),
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": repr({"password": QUOTES}), "image/png": PNG},
            execution_count=3,
        ),
        nbformat.v4.new_output(
            "error", ename="ConnectionError", evalue=f"refused {QUOTES}", traceback=[QUOTES]
        ),
    ]
    nb.cells = [attach, parameters, cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["papermill"] = {"parameters": {"day": 20240101, "pin": "20240101"}}
    return nb


def remember_awkward_secrets() -> None:
    """Secrets that are a number, a JSON keyword, a cell type, a stream's name, a repr."""
    _redaction.remember("20240101")
    _redaction.remember({"sslmode": "true", "kind": "code", "log": "stderr", "pw": QUOTES})


def test_a_notebook_is_masked_in_its_values_and_stays_a_notebook(tmp_path: Path) -> None:
    remember_awkward_secrets()
    path = tmp_path / "run.ipynb"
    nbformat.write(a_run_notebook(), path)
    assert scrub_notebook(path)

    text = path.read_text(encoding="utf-8")
    assert QUOTES not in text
    assert text.replace(PNG, "").count("20240101") == 1  # the number papermill recorded
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    attach, parameters, cell = nb.cells
    assert [c.cell_type for c in nb.cells] == ["code", "code", "code"]
    assert attach.metadata["jupyter"] == {"source_hidden": True}
    assert parameters.source == "day = ********\npin = '********'\n"
    stream, result, error = cell.outputs
    assert (stream.output_type, stream.name) == ("stream", "stderr")
    assert stream.text == "pin ******** pw ********\n"
    assert result.data == {"text/plain": "{'password': '********'}", "image/png": PNG}
    assert (error.evalue, error.traceback) == ("refused ********", ["********"])
    assert nb.metadata["papermill"]["parameters"] == {"day": 20240101, "pin": "********"}
    assert not scrub_notebook(path)  # nothing left to mask: not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["run.ipynb"]


def test_every_save_papermill_makes_is_masked_before_it_is_written(tmp_path: Path) -> None:
    from papermill.iorw import write_ipynb

    from kernel_ext import Secret

    with taskbook_test_harness() as home:
        Secret(value={"password": QUOTES, "pin": "20240101"}).save("warehouse")
        _redaction.forget_all()  # the executor learns them from the store
        output = home / "outputs" / "run.ipynb"
        output.parent.mkdir()
        seen = []
        with scrubbed_output(output):
            write_ipynb(a_run_notebook(), str(output))  # papermill's save, after a cell
            seen.append(output.read_text(encoding="utf-8"))
            Secret(value="sk-saved-meanwhile-7f").save("new")  # by the notebook, meanwhile
            _redaction.forget_all()
            nb = a_run_notebook()
            nb.cells[2].outputs[0].text = "made sk-saved-meanwhile-7f"
            write_ipynb(nb, str(output))
            seen.append(output.read_text(encoding="utf-8"))
    assert all(QUOTES not in text and "sk-saved-meanwhile-7f" not in text for text in seen)
    assert all(nbformat.validate(nbformat.reads(text, as_version=4)) is None for text in seen)
    assert "made ********" in seen[1]


def test_an_outcome_is_masked_in_its_values_and_stays_json() -> None:
    remember_awkward_secrets()
    details = {"cell_number": 20240101, "evalue": "pin 20240101", "ok": True, "why": None}
    outcome = RunOutcome(Failed(f"refused {QUOTES}", details=details), output="/o/run.ipynb")
    back = RunOutcome.from_json(outcome.to_json())
    assert back.state.message == "refused ********" and back.output == "/o/run.ipynb"
    assert back.state.details == {**details, "evalue": "pin ********"}
    assert json.loads(outcome.to_json())["state"]["type"] == "FAILED"
