"""Automations from YAML or JSON files, as ``prefect automation create --from-file`` reads
them: one automation, a list of them, or ``{"automations": [...]}``.

    automations = load_automations("automations.yaml")    # all of them or an error

Everything is checked before anything is returned, and every problem is reported, one
line each, naming the file, the automation and the field:

    automations.yaml: automation 2 ('sla'): trigger.within: `within` for Proactive ...
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kernel_ext._errors import ConfigurationError
from kernel_ext.automations._automation import Automation

__all__ = ["AutomationFileError", "load_automations", "parse_automations"]


class AutomationFileError(ConfigurationError):
    """An automation file cannot be read, or an automation in it is not valid; ``problems``
    holds one line per problem."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = problems.splitlines() if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def load_automations(path: str | Path) -> list[Automation]:
    """The automations in the YAML (``.yaml``/``.yml``) or JSON file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AutomationFileError([f"{path}: cannot be read: {error.strerror}"]) from None
    return parse_automations(text, str(path), yaml=path.suffix.lower() in (".yaml", ".yml"))


def parse_automations(text: str, source: str, *, yaml: bool) -> list[Automation]:
    """The automations in ``text`` (YAML or JSON); ``source`` names it in the errors."""
    entries = _entries(_decode(text, source, yaml), source)
    automations: list[Automation] = []
    problems: list[str] = []
    for number, entry in enumerate(entries, start=1):
        where = _where(source, number, entry, len(entries))
        if not isinstance(entry, dict):
            problems.append(f"{where}: is a {type(entry).__name__}, not a mapping of fields")
            continue
        try:
            automations.append(Automation.model_validate(entry))
        except ValidationError as error:
            problems.extend(f"{where}: {line}" for line in describe_errors(error))
    problems.extend(_repeated_names(automations, source))
    if problems:
        raise AutomationFileError(problems)
    return automations


def describe_errors(error: ValidationError) -> list[str]:
    """One line per pydantic error: ``trigger.within: the message``."""
    return [_describe(detail) for detail in error.errors(include_url=False)]


def _describe(detail: Any) -> str:
    where = _location(detail.get("loc", ()))
    message = str(detail.get("msg", "")).removeprefix("Value error, ")
    if detail.get("type") == "extra_forbidden":
        message = "is not a field here (check its spelling and indentation)"
    elif detail.get("type") == "missing":
        message = "is required"
    elif detail.get("type") == "union_tag_invalid":
        context = detail.get("ctx") or {}
        message = (
            f"{context.get('tag')!r} is not a type Taskbook knows; use one of "
            f"{context.get('expected_tags')}"
        )
    return f"{where}: {message}" if where else message


def _location(loc: Sequence[Any]) -> str:
    """``("trigger", "event", "within")`` as ``trigger.within``: the union's tag names
    (``event``, ``send-notification``, a class name) are not fields, so they are left out."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part in _TAGS or (isinstance(part, str) and part[:1].isupper()):
            continue
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _decode(text: str, source: str, yaml: bool) -> Any:
    if yaml:
        import yaml as pyyaml  # type: ignore[import-untyped]

        try:
            return pyyaml.safe_load(text)
        except pyyaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise AutomationFileError([f"{source}: is not valid YAML{line}: {problem}"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AutomationFileError(
            [f"{source}: is not valid JSON (line {error.lineno}): {error.msg}"]
        ) from None


def _entries(data: Any, source: str) -> list[Any]:
    if isinstance(data, dict) and "automations" in data:
        data = data["automations"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise AutomationFileError(
            [
                f"{source}: holds no automation; write one automation (a mapping with "
                "`name`, `trigger` and `actions`), a list of them, or `automations: [...]`"
            ]
        )
    return data


def _where(source: str, number: int, entry: Any, count: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"automation {number}" if count > 1 else "automation"
    return f"{source}: {label}" + (f" ({name!r})" if isinstance(name, str) else "")


def _repeated_names(automations: list[Automation], source: str) -> list[str]:
    seen: set[str] = set()
    problems = []
    for automation in automations:
        if automation.name in seen:
            problems.append(
                f"{source}: the name {automation.name!r} is used twice; automation names are unique"
            )
        seen.add(automation.name)
    return problems


_TAGS = {
    "event",
    "compound",
    "sequence",
    "do-nothing",
    "run-deployment",
    "pause-deployment",
    "resume-deployment",
    "cancel-flow-run",
    "suspend-flow-run",
    "resume-flow-run",
    "send-notification",
    "pause-automation",
    "resume-automation",
    "function-after[_proactive_window(), EventTrigger]",
}
