"""A Python flow as a deployment's snapshot: the notebook that runs it, and its parameters.

A deployment of ``etl.py:daily`` keeps what every deployment keeps, a notebook, so it is
versioned, diffed, executed by papermill and kept as an output notebook like any other.
The notebook is made from the source, not written by hand:

1. a markdown cell saying what it is;
2. the source file, verbatim, under ``%%flow_source PATH PROJECT``: the run imports it as
   a module, as Prefect loads an entrypoint (``kernel_ext._flow_module``), so its
   ``if __name__ == "__main__":`` block does not run, ``__file__`` is set, and relative
   imports and imports from the project folder it was deployed from work;
   from a notebook instead: its saved cells up to the last one defining the flow (that
   cell ending with the definition), without their outputs;
3. a ``parameters`` cell holding one dict, ``__taskbook_parameters__``, which papermill
   sets to the run's values: no parameter name lands in the kernel's namespace, so none
   can replace a name the code uses;
4. the call: ``call_flow(daily, __taskbook_parameters__)`` (awaited for an async flow); a
   parameter the run does not give takes the flow's own default.

The parameter schema comes from the flow's signature, read with ``ast`` (nothing of the
user's code runs at deploy time): the annotation gives the type (``int``, ``float``,
``str``, ``bool``, ``list``, ``dict``, ``Optional[...]`` of those; anything else is
"any"), a literal default its value, a default that is an expression (``date.today()``)
is marked ``expression`` and left to the flow, Google-style ``Args:`` in the docstring
give the help, and a parameter without a default is required.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel_ext._errors import ConfigurationError
from papermill_bridge._parameters import PYTHON3_KERNELSPEC, Parameter

__all__ = ["FlowSource", "from_notebook", "from_python_file", "parse_entrypoint"]

PARAMETERS = "__taskbook_parameters__"  # the dict papermill sets
MODULE = "__taskbook_module__"  # the imported file, in the kernel's namespace
_SIMPLE = {"int", "float", "str", "bool", "list", "dict"}
_ALIASES = {"List": "list", "Dict": "dict", "Sequence": "list", "Mapping": "dict", "tuple": "list"}


@dataclass(frozen=True, slots=True)
class FlowSource:
    """What ``promote_flow`` stores: the notebook that runs the flow and its schema."""

    notebook: dict[str, Any]
    parameters: list[Parameter]

    def text(self) -> str:
        return json.dumps(self.notebook, indent=1, sort_keys=True) + "\n"


def parse_entrypoint(entrypoint: str) -> tuple[Path, str]:
    """``path/to/file.py:my_flow`` (Prefect's entrypoint form) as (path, function)."""
    path, sep, function = entrypoint.rpartition(":")
    if not sep or not path or not function.isidentifier():
        raise ConfigurationError(
            f"{entrypoint!r} is not FILE.py:FLOW; give the file and the flow function's name, "
            "e.g. flows/etl.py:daily."
        )
    return Path(path), function


def from_python_file(path: Path, function: str) -> FlowSource:
    """The snapshot of flow ``function`` defined at the top level of the .py file."""
    source = _read_source(path)
    tree = _parse(source, path.name)
    node = _find_flow(tree.body, function, path.name)
    magic = f"%%flow_source {shlex.quote(str(path.resolve()))} {shlex.quote(os.getcwd())}"
    cells = [
        _markdown(function, path.name),
        _loader_cell(),
        _code(f"{magic}\n{source}", "taskbook-flow-source", tags=["flow-source"]),
    ]
    return _finish(cells, node, source, path, f"{MODULE}.{function}")


def from_notebook(path: Path, function: str) -> FlowSource:
    """The snapshot of flow ``function`` defined in a cell of the saved notebook: its
    cells up to the last one defining it (the kernel's version), that one cut after the
    definition (a ``daily()`` below it would run the flow once more), and the
    ``parameters`` tag of any of them dropped: the flow's own parameters cell is the one
    papermill fills."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"Cannot read the notebook {path}: {error}.") from None
    cells = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    found: tuple[int, ast.FunctionDef | ast.AsyncFunctionDef, str, str] | None = None
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = _joined(cell.get("source", ""))
        parsed = _parse_cell(source)
        node = None if parsed is None else _flow_node(parsed[0].body, function)
        if node is not None and parsed is not None:
            found = (index, node, source, parsed[1])
    if found is None:
        raise ConfigurationError(
            f"The saved notebook {path.name} has no cell defining the flow {function!r}; save "
            "the notebook (Ctrl-S) and deploy again."
        )
    index, node, source, python = found
    kept = [_without_outputs(c) for c in cells[:index]]
    kept.append({**_without_outputs(cells[index]), "source": _up_to(node, source, python)})
    return _finish([_markdown(function, path.name), *kept], node, python, path, function)


def _up_to(node: ast.stmt, source: str, python: str) -> str:
    """The cell's text up to the end of the definition (all of it when IPython's magics
    changed its number of lines, so the line numbers would not match)."""
    if len(source.splitlines()) != len(python.splitlines()) or node.end_lineno is None:
        return source
    return "".join(source.splitlines(keepends=True)[: node.end_lineno]).rstrip() + "\n"


# --- the notebook -------------------------------------------------------------------------


def _finish(
    cells: list[dict[str, Any]],
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    source: str,
    path: Path,
    target: str,
) -> FlowSource:
    parameters = _parameters(node, source)
    cells.append(
        _code(_parameters_cell(parameters), "taskbook-flow-parameters", tags=["parameters"])
    )
    cells.append(_code(_call(node, target), "taskbook-flow-call", tags=["flow-call"]))
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": PYTHON3_KERNELSPEC,
            "language_info": {"name": "python"},
            "taskbook": {
                "flow": node.name,
                "source": path.name,
                "parameters": PARAMETERS,
                "cwd": os.getcwd() if path.suffix == ".py" else str(path.resolve().parent),
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return FlowSource(notebook, parameters)


def _markdown(function: str, filename: str) -> dict[str, Any]:
    text = (
        f"# Flow `{function}` of `{filename}`\n\n"
        "Made by Taskbook when the flow was deployed: the source as it was, then the flow "
        "called with the run's parameters."
    )
    return {"cell_type": "markdown", "id": "taskbook-flow-about", "metadata": {}, "source": text}


def _loader_cell() -> dict[str, Any]:
    source = (
        "# Injected by Taskbook: the next cell imports the flow's file as a module, as\n"
        '# Prefect loads an entrypoint (its `if __name__ == "__main__":` block does not run).\n'
        "import kernel_ext.deployment\n"
        "kernel_ext.deployment.register_flow_source_magic()"
    )
    cell = _code(source, "taskbook-flow-loader", tags=["injected-taskbook"])
    cell["metadata"]["jupyter"] = {"source_hidden": True}
    return cell


def _code(source: str, cell_id: str, tags: list[str]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": tags},
        "outputs": [],
        "source": source,
    }


def _without_outputs(cell: dict[str, Any]) -> dict[str, Any]:
    copy = {k: v for k, v in cell.items() if k not in ("outputs", "execution_count")}
    metadata = dict(copy.get("metadata") or {})
    tags = [t for t in metadata.get("tags", []) if t not in ("parameters", "injected-parameters")]
    metadata["tags"] = tags
    copy["metadata"] = metadata
    if cell.get("cell_type") == "code":
        copy["outputs"], copy["execution_count"] = [], None
    return copy


def _parameters_cell(parameters: list[Parameter]) -> str:
    lines = ["# The flow's parameters; papermill sets this run's values after this cell."]
    for parameter in parameters:
        if parameter.required:
            default = " (required)"
        elif parameter.expression:
            default = f" = {parameter.default}"
        else:
            default = f" = {parameter.default!r}"
        text = f"#   {parameter.name}: {parameter.type}{default}"
        lines.append(f"{text}  - {parameter.help}" if parameter.help else text)
    if not parameters:
        lines = ["# The flow takes no parameters."]
    lines.append(f"{PARAMETERS} = {{}}")
    return "\n".join(lines)


def _call(node: ast.FunctionDef | ast.AsyncFunctionDef, target: str) -> str:
    prefix = "await " if isinstance(node, ast.AsyncFunctionDef) else ""
    return (
        "# The flow, called with the run's parameters.\n"
        "import kernel_ext.deployment as _taskbook_deployment\n"
        f"{prefix}_taskbook_deployment.call_flow({target}, {PARAMETERS})"
    )


# --- reading the source -------------------------------------------------------------------


def _read_source(path: Path) -> str:
    if path.suffix != ".py":
        raise ConfigurationError(f"{path} is not a Python file (.py); give FILE.py:FLOW.")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"No file at {path}; check the path.") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path} is a folder; give FILE.py:FLOW.") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not UTF-8 text; save it as UTF-8.") from None


def _parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise ConfigurationError(
            f"{filename} is not valid Python (line {error.lineno}: {error.msg}); fix it and "
            "deploy again."
        ) from None


def _parse_cell(source: str) -> tuple[ast.Module, str] | None:
    """A cell as Python (IPython's magics turned into calls) and its tree; None if it does
    not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    python: str = TransformerManager().transform_cell(source)  # type: ignore[no-untyped-call]
    try:
        return ast.parse(python), python
    except SyntaxError:
        return None


def _joined(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _find_flow(
    body: list[ast.stmt], function: str, filename: str
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    node = _flow_node(body, function)
    if node is not None:
        return node
    flows = [
        n.name
        for n in body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and _is_flow(n)
    ]
    known = f"; its flows: {', '.join(flows)}" if flows else "; it defines no @flow function"
    raise ConfigurationError(
        f"{filename} has no @flow function {function!r} at its top level{known}."
    )


def _flow_node(
    body: list[ast.stmt], function: str
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            if _is_flow(node):
                return node
    return None


def _is_flow(node: ast.stmt) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return any(_decorator_name(d) == "flow" for d in node.decorator_list)


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


# --- the parameters -----------------------------------------------------------------------


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> list[Parameter]:
    arguments = node.args
    for star, kind in ((arguments.vararg, "*"), (arguments.kwarg, "**")):
        if star is not None:
            raise ConfigurationError(
                f"The flow {node.name!r} takes {kind}{star.arg}; a deployment passes "
                "parameters by name, so give each one a name of its own."
            )
    defaults = _defaults(node)
    helps = _docstring_args(ast.get_docstring(node) or "")
    found = []
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        default = defaults.get(argument.arg)
        value, literal = _value(default)
        kind = _type_name(argument.annotation)
        if kind == "any" and literal and value is not None:
            kind = _type_of(value)
        if default is not None and not literal:  # an expression: the flow's to evaluate
            value = " ".join((ast.get_source_segment(source, default) or "...").split())
        found.append(
            Parameter(
                argument.arg,
                kind,
                value,
                helps.get(argument.arg, ""),
                required=default is None,
                expression=default is not None and not literal,
            )
        )
    return found


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    paired = dict(
        zip(
            [a.arg for a in positional[len(positional) - len(arguments.defaults) :]],
            arguments.defaults,
            strict=True,
        )
    )
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if default is not None:
            paired[argument.arg] = default
    return paired


def _value(node: ast.expr | None) -> tuple[Any, bool]:
    if node is None:
        return None, True
    try:
        return ast.literal_eval(node), True
    except (ValueError, SyntaxError, TypeError):
        return None, False


def _type_name(annotation: ast.expr | None) -> str:
    if annotation is None:
        return "any"
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:  # a string annotation: "int"
            return _type_name(ast.parse(annotation.value, mode="eval").body)
        except SyntaxError:
            return "any"
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _optional(annotation.left, annotation.right)  # int | None
    if isinstance(annotation, ast.Subscript):
        outer = _decorator_name(annotation.value)
        if outer == "Optional":
            return _type_name(annotation.slice)
        if outer == "Union" and isinstance(annotation.slice, ast.Tuple):
            members = annotation.slice.elts
            if len(members) == 2:
                return _optional(members[0], members[1])
            return "any"
        return _simple(outer)
    return _simple(_decorator_name(annotation))


def _optional(left: ast.expr, right: ast.expr) -> str:
    for one, other in ((left, right), (right, left)):
        if isinstance(other, ast.Constant) and other.value is None:
            return _type_name(one)
    return "any"


def _simple(name: str | None) -> str:
    name = _ALIASES.get(name or "", name)
    return name if name in _SIMPLE else "any"


def _type_of(value: Any) -> str:
    for name in ("bool", "int", "float", "str", "list", "dict"):
        if type(value).__name__ == name:
            return name
    return "any"


def _docstring_args(docstring: str) -> dict[str, str]:
    """``Args:`` entries of a Google-style docstring: ``name (type): help``."""
    helps: dict[str, str] = {}
    inside = False
    for line in docstring.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            inside = True
            continue
        if inside and stripped.endswith(":") and " " not in stripped:
            break  # the next section (Returns:)
        if inside and ":" in stripped:
            name, _, text = stripped.partition(":")
            name = name.split("(")[0].strip()
            if name.isidentifier():
                helps[name] = text.strip()
    return helps
