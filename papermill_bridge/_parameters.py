"""A notebook's parameters: read from its ``parameters`` cell, validated before any kernel.

The cell tagged ``parameters`` (papermill's convention) is read with papermill's own
inspection: names, defaults and the comments after them as help. Types come from the
annotation when there is one (``n: int = 3``), else from the default's literal value. A
run's values (from the CLI as text, or from an API as JSON) are coerced to those types,
and an unknown name or a value of the wrong type is refused with the list of parameters.
"""

from __future__ import annotations

import ast
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kernel_ext._errors import ConfigurationError, ParameterValidationError

__all__ = [
    "Parameter",
    "check_required",
    "coerce_parameters",
    "describe",
    "read_parameters",
    "run_defaults",
]

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of a notebook or a flow: its name, type name, default value and help
    text. A flow's parameter without a default is ``required``: a run must give it. A
    default that is an ``expression`` (``date.today()``) is its source text, evaluated
    by the notebook or the flow itself: a run that does not give the parameter leaves it
    to them."""

    name: str
    type: str
    default: Any
    help: str = ""
    required: bool = False
    expression: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_parameters(path: str | Path) -> list[Parameter]:
    """The parameters of the notebook at ``path`` (empty if no cell is tagged)."""
    import papermill

    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    _check_python(Path(path), notebook)
    _check_cell_parses(Path(path), notebook)
    if (notebook.get("metadata", {}).get("kernelspec") or {}).get("name"):
        inspected = papermill.inspect_notebook(str(path))
    else:  # papermill needs a kernel name; deployment runs use python3's
        with tempfile.TemporaryDirectory(prefix="taskbook-inspect-") as folder:
            copy = Path(folder) / Path(path).name
            notebook.setdefault("metadata", {})["kernelspec"] = PYTHON3_KERNELSPEC
            copy.write_text(json.dumps(notebook), encoding="utf-8")
            inspected = papermill.inspect_notebook(str(copy))
    return [_parameter(entry) for entry in inspected.values()]


PYTHON3_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _check_python(path: Path, notebook: dict[str, Any]) -> None:
    """Deployment runs execute on a Python kernel: another language is refused here."""
    metadata = notebook.get("metadata", {})
    language = (metadata.get("kernelspec") or {}).get("language") or (
        metadata.get("language_info") or {}
    ).get("name", "python")
    if str(language).lower() != "python":
        raise ConfigurationError(
            f"{path.name} is a {language} notebook; Taskbook deploys Python notebooks "
            "(kernel python3)."
        )


def _check_cell_parses(path: Path, notebook: dict[str, Any]) -> None:
    """papermill reads a broken ``parameters`` cell without complaint; we refuse it."""
    for cell in notebook.get("cells", []):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        try:
            ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError as error:
            raise ConfigurationError(
                f"The `parameters` cell of {path.name} is not valid Python (line "
                f"{error.lineno}: {error.msg}); fix it and promote again."
            ) from None


def _parameter(entry: dict[str, Any]) -> Parameter:
    text = entry.get("default") or "None"
    expression = False
    try:
        default = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        default, expression = text, True  # an expression (e.g. a call): the cell's to run
    declared = entry.get("inferred_type_name") or "None"
    type_name = declared if declared in _TYPES else ("any" if expression else _type_of(default))
    return Parameter(
        entry["name"], type_name, default, entry.get("help") or "", expression=expression
    )


def _type_of(value: Any) -> str:
    for name, kind in _TYPES.items():
        if type(value) is kind:
            return name
    return "any"


def describe(schema: list[dict[str, Any]]) -> str:
    if not schema:
        return "(none: tag a cell `parameters` to declare some)"
    return ", ".join(_describe_one(p) for p in schema)


def _describe_one(parameter: dict[str, Any]) -> str:
    if parameter.get("required"):
        return f"{parameter['name']}: {parameter['type']} (required)"
    if parameter.get("expression"):
        return f"{parameter['name']}: {parameter['type']} = {parameter['default']}"
    return f"{parameter['name']}: {parameter['type']} = {parameter['default']!r}"


def run_defaults(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """The values a run gets for the parameters it does not give: the literal defaults
    (a required parameter has none; an expression is left to the notebook or flow)."""
    return {
        p["name"]: p["default"] for p in schema if not p.get("required") and not p.get("expression")
    }


def check_required(schema: list[dict[str, Any]], values: dict[str, Any], where: str) -> None:
    """Refuse ``values`` (a run's, or a schedule's) that leave a required parameter out."""
    missing = [p["name"] for p in schema if p.get("required") and p["name"] not in values]
    if missing:
        names = ", ".join(missing)
        example = " ".join(f"-p {name}=VALUE" for name in missing)
        raise ParameterValidationError(
            f"{where} needs a value for the required parameter(s) {names}: pass {example} "
            "(or give the deployment a default)."
        )


def coerce_parameters(schema: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against ``schema`` and converted to the declared types."""
    known = {p["name"]: p for p in schema}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterValidationError(
            f"Unknown parameter(s) {', '.join(unknown)}. Valid parameters: {describe(schema)}."
        )
    return {name: _coerce(known[name], value) for name, value in values.items()}


def _coerce(parameter: dict[str, Any], value: Any) -> Any:
    kind = parameter["type"]
    try:
        return _convert(kind, value)
    except (ValueError, TypeError, json.JSONDecodeError):
        known = "" if parameter.get("required") else f" (default {parameter['default']!r})"
        raise ParameterValidationError(
            f"Parameter {parameter['name']!r} must be {kind}, got {value!r}{known}."
        ) from None


def _convert(kind: str, value: Any) -> Any:
    if kind == "any" or value is None:
        return value
    if kind == "bool":
        return _to_bool(value)
    if kind in ("list", "dict"):
        value = json.loads(value) if isinstance(value, str) else value
        if not isinstance(value, _TYPES[kind]):
            raise TypeError(kind)
        return value
    if kind == "int" and (isinstance(value, bool) or _fractional(value)):
        raise TypeError(kind)
    if kind == "str":
        return value if isinstance(value, str) else json.dumps(value)
    return _TYPES[kind](value)


def _fractional(value: Any) -> bool:
    return isinstance(value, float) and not value.is_integer()


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)
