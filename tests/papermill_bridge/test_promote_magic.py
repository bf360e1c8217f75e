"""`%promote` from inside a notebook's kernel (a real IPython shell)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "cells_as_tasks.ipynb"


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    with taskbook_test_harness():
        InteractiveShell.clear_instance()
        ip = InteractiveShell.instance()
        ip.run_cell("%load_ext kernel_ext")
        yield ip
        ip.run_cell("%unload_ext kernel_ext")
        InteractiveShell.clear_instance()


def test_promote_the_notebook_you_are_in(shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_ext.store import get_store

    monkeypatch.setenv("TASKBOOK_NOTEBOOK_PATH", str(NOTEBOOK))
    result = shell.run_cell("%promote sensors --interval 1h -p readings=12")
    assert result.success
    deployment = get_store().read_deployment("sensors")
    assert deployment["versions"][0]["version"] == 1 and len(deployment["schedules"]) == 1
    defaults = {
        p["name"]: p["default"]
        for p in get_store().read_deployment_version("sensors")["parameters"]
    }
    assert defaults["readings"] == 12


def test_promote_explains_what_is_missing(
    shell: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKBOOK_NOTEBOOK_PATH", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    shell.run_cell("%promote sensors")
    assert "taskbook deploy NOTEBOOK --name NAME" in capsys.readouterr().err
    monkeypatch.setenv("TASKBOOK_NOTEBOOK_PATH", str(NOTEBOOK))
    shell.run_cell("%promote sensors -p readings=lots")
    assert "'readings' must be int" in capsys.readouterr().err


def test_promote_in_a_kernel_without_its_notebook_path_is_skipped_with_a_note(
    shell: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill and nbconvert start a kernel that no Jupyter server told its notebook:
    the rest of the notebook runs, and the output says how to promote it instead."""
    from kernel_ext.store import get_store

    monkeypatch.delenv("TASKBOOK_NOTEBOOK_PATH", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as ipykernel's shell has
    result = shell.run_cell("%promote sensors")
    assert result.success
    out = capsys.readouterr().out
    assert "%promote skipped" in out and "TASKBOOK_NOTEBOOK_PATH" in out
    assert get_store().list_deployments() == []
