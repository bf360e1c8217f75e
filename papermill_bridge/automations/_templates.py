"""The Jinja templates of actions: notification texts and run-deployment parameters,
rendered with what fired (Prefect's template variables).

    {{ event.event }} {{ event.resource.id }} {{ event.payload.path }}
    {{ flow_run.name }} {{ flow_run.state.name }} {{ flow_run.parameters.region }}
    {{ flow.name }} {{ deployment.name }} {{ automation.name }}
    {{ run_url }}   or Prefect's {{ flow_run|ui_url }}: the run in the console

Templates run in Jinja's sandbox: they read these values and cannot reach anything
else. What an event does not concern renders empty (a proactive firing may have no
event, a custom event no flow run), so one template serves every firing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kernel_ext.events import Event
from papermill_bridge.automations._failures import ActionFailed

__all__ = ["TemplateContext", "render_parameters", "render_text"]

TemplateContext = Mapping[str, Any]
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)


def render_text(template: str, context: TemplateContext) -> str:
    """``template`` rendered with ``context``; ``ActionFailed`` saying why it cannot be
    (a filter that fails, an attribute the sandbox refuses)."""
    from jinja2 import TemplateError

    try:
        return str(_environment().from_string(template).render(**context))
    except TemplateError as error:
        raise ActionFailed(
            f"The template {_shortened(template)!r} cannot be rendered: {error}"
        ) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise ActionFailed(
            f"The template {_shortened(template)!r} failed: {type(error).__name__}: {error}"
        ) from None


def _shortened(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_parameters(parameters: Mapping[str, Any], context: TemplateContext) -> dict[str, Any]:
    """The parameters with their templates rendered, as Prefect does: a value that is
    one ``{{ expression }}`` keeps the expression's type (a number stays a number), other
    templated strings become the rendered text; ``{"__prefect_kind": "jinja",
    "template": ...}`` and ``{"__prefect_kind": "json", "value": ...}`` are understood."""
    return {key: _render_value(value, context) for key, value in parameters.items()}


def _render_value(value: Any, context: TemplateContext) -> Any:
    if isinstance(value, str):
        return _render_string(value, context)
    if isinstance(value, list):
        return [_render_value(item, context) for item in value]
    if isinstance(value, dict):
        kind = value.get("__prefect_kind")
        if kind == "jinja":
            return render_text(str(value.get("template", "")), context)
        if kind == "json":
            inner = _render_value(value.get("value"), context)
            return json.loads(inner) if isinstance(inner, str) else inner
        return {key: _render_value(item, context) for key, item in value.items()}
    return value


def _render_string(text: str, context: TemplateContext) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    single = _SINGLE_EXPRESSION.match(text)
    if single is None:
        return render_text(text, context)
    rendered = render_text("{{ (" + single["expression"] + ") | tojson }}", context)
    return json.loads(rendered) if rendered else None  # tojson made it JSON


def _environment() -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
    environment.policies["json.dumps_function"] = _dumps
    environment.filters["ui_url"] = _ui_url
    return environment


def _dumps(value: Any, **options: Any) -> str:
    """``tojson`` for what templates hold: an undefined value is null, a time its ISO text."""
    return json.dumps(value, default=_json_default, **options)


def _json_default(value: Any) -> Any:
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Event):
        return value.to_json()
    dump: Callable[..., Any] | None = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    return str(value)


def _ui_url(value: Any) -> str:
    """Prefect's ``ui_url`` filter: the console link to a flow run (or its id)."""
    from papermill_bridge import run_link

    run_id = value.get("id") if isinstance(value, Mapping) else value
    if not isinstance(run_id, str) or not run_id:
        return ""
    return run_link(run_id) or ""
