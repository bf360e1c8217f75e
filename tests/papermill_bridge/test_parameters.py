"""Notebook parameters: read from the `parameters` cell, coerced, and refused when wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernel_ext import ParameterValidationError
from papermill_bridge import coerce_parameters, read_parameters

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"


def notebook_with(tmp_path: Path, source: str, tagged: bool = True) -> Path:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    if tagged:
        cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell, nbformat.v4.new_code_cell("print(1)")]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    return path


def test_reads_names_types_defaults_and_help() -> None:
    params = {p.name: p for p in read_parameters(NOTEBOOKS / "cells_as_tasks.ipynb")}
    assert params["source"].type == "str" and params["source"].default == "station-7"
    assert params["readings"].type == "int" and params["readings"].default == 24
    assert params["readings"].help == "how many readings to fetch"


def test_annotations_win_over_defaults(tmp_path: Path) -> None:
    path = notebook_with(tmp_path, "rate: float = 1\nflags: list = []\non = True")
    params = {p.name: p.type for p in read_parameters(path)}
    assert params == {"rate": "float", "flags": "list", "on": "bool"}


def test_no_parameters_cell(tmp_path: Path) -> None:
    assert read_parameters(notebook_with(tmp_path, "x = 1", tagged=False)) == []


SCHEMA = [
    {"name": "n", "type": "int", "default": 3, "help": ""},
    {"name": "rate", "type": "float", "default": 0.5, "help": ""},
    {"name": "label", "type": "str", "default": "x", "help": ""},
    {"name": "on", "type": "bool", "default": False, "help": ""},
    {"name": "items", "type": "list", "default": [], "help": ""},
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"n": "7"}, {"n": 7}),
        ({"n": 7}, {"n": 7}),
        ({"rate": "2"}, {"rate": 2.0}),
        ({"label": "hello world"}, {"label": "hello world"}),
        ({"on": "yes"}, {"on": True}),
        ({"on": "false"}, {"on": False}),
        ({"items": "[1, 2]"}, {"items": [1, 2]}),
    ],
)
def test_coercion(values: dict[str, Any], expected: dict[str, Any]) -> None:
    assert coerce_parameters(SCHEMA, values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"n": "seven"}, "Parameter 'n' must be int, got 'seven'"),
        ({"n": 2.5}, "Parameter 'n' must be int"),
        ({"on": "perhaps"}, "Parameter 'on' must be bool"),
        ({"items": "{}"}, "Parameter 'items' must be list"),
        ({"colour": "red"}, "Unknown parameter(s) colour. Valid parameters: n: int = 3"),
    ],
)
def test_bad_values_are_refused_with_the_valid_parameters(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ParameterValidationError) as caught:
        coerce_parameters(SCHEMA, values)
    assert message in str(caught.value)
