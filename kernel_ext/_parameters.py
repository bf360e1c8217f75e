"""Flow parameters: bound to the signature and validated against its annotations.

Validation (and coercion, e.g. ``"3"`` to ``3`` for an ``int``) uses pydantic, imported
only when a flow with annotations is first called. The stored copy is JSON-safe.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from kernel_ext._errors import ParameterBindError, ParameterTypeError

__all__ = ["ParameterBinder", "jsonable"]

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class ParameterBinder:
    """Binds and validates the calls of one flow function (the model is built once)."""

    def __init__(self, fn: Callable[..., Any], flow_name: str, validate: bool = True) -> None:
        self.signature = _signature(fn)
        self.flow_name = flow_name
        self.validate_values = validate and any(
            p.annotation is not inspect.Parameter.empty and p.kind not in _VARIADIC
            for p in self.signature.parameters.values()
        )
        self._model: Any = None
        self._annotations = {
            name: p.annotation
            for name, p in self.signature.parameters.items()
            if p.annotation is not inspect.Parameter.empty and p.kind not in _VARIADIC
        }

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's values by parameter name, defaults applied (not yet validated)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise ParameterBindError(
                f"Flow {self.flow_name!r} cannot be called that way: {error}. "
                f"Its parameters are {self._describe()}."
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` checked (and coerced) against the annotations; a value that does not
        fit raises ``ParameterTypeError``."""
        return self._validated(values) if self.validate_values else values

    def call_args(self, values: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``(args, kwargs)`` that call the function with bound ``values``."""
        bound = inspect.BoundArguments(self.signature, values)  # type: ignore[arg-type,unused-ignore]
        return bound.args, bound.kwargs

    def _validated(self, values: dict[str, Any]) -> dict[str, Any]:
        if self._already_valid(values):
            return values
        import pydantic

        model = self._model or self._build_model()
        fields = {k: v for k, v in values.items() if k in model.model_fields}
        try:
            validated = model.model_validate(fields)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
                for e in error.errors()
            )
            raise ParameterTypeError(
                f"Flow {self.flow_name!r} got invalid parameters: {problems}. "
                f"Its parameters are {self._describe()}."
            ) from None
        return {**values, **{name: getattr(validated, name) for name in fields}}

    def _already_valid(self, values: dict[str, Any]) -> bool:
        """Values whose type *is* their plain-class annotation need no pydantic round trip.

        This keeps the common call (``flow(3)`` for ``n: int``) free of the pydantic
        import and validation; anything else (coercion, generics, models) goes through it.
        """
        for name, annotation in self._annotations.items():
            if isinstance(annotation, str) or type(values.get(name)) is not annotation:
                return False
        return True

    def _build_model(self) -> Any:
        import pydantic

        fields: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            if param.kind in _VARIADIC:
                continue
            annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (annotation, default)
        config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        self._model = pydantic.create_model(  # type: ignore[call-overload,unused-ignore]
            f"{self.flow_name}_parameters", __config__=config, **fields
        )
        return self._model

    def _describe(self) -> str:
        return str(self.signature)


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations (``from __future__ import annotations``)
    evaluated where possible, so they validate like real ones."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:
        return inspect.signature(fn)


def jsonable(value: Any, limit: int = 2000) -> Any:
    """``value`` if it is JSON, else a short repr (stored parameters must serialise)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
