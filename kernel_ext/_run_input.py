"""``RunInput``: the typed answer a paused run waits for, as in Prefect.

    class ReviewInput(RunInput):
        approved: bool
        feedback: str = ""

    review = pause_flow_run(wait_for_input=ReviewInput, timeout=600)

The form shown to a person is generated from the fields (their JSON schema). A bare type
(``wait_for_input=bool``) is wrapped in a one-field model named ``value``. This module
imports pydantic, so ``kernel_ext`` loads it only on first use.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import pydantic

__all__ = ["InputForm", "RunInput", "form_for"]


class RunInput(pydantic.BaseModel):
    """Base class of the inputs a paused run can wait for; unknown fields are refused."""

    model_config = pydantic.ConfigDict(extra="forbid")

    description: ClassVar[str | None] = None

    @classmethod
    def with_initial_data(cls, description: str | None = None, **defaults: Any) -> type[RunInput]:
        """A subclass whose fields default to ``defaults`` (pre-filled in the form)."""
        fields = {
            name: (info.annotation, defaults.get(name, info.default))
            for name, info in cls.model_fields.items()
        }
        model: type[RunInput] = pydantic.create_model(  # type: ignore[call-overload]
            cls.__name__, __base__=cls, **fields
        )
        model.description = description if description is not None else cls.description
        return model


class InputForm:
    """A model to validate answers with, its JSON schema, and how to hand the answer back."""

    def __init__(self, model: type[pydantic.BaseModel], description: str | None, bare: bool):
        self.model = model
        self.description = description
        self.bare = bare

    @property
    def schema(self) -> dict[str, Any]:
        return self.model.model_json_schema()

    def parse(self, answer: dict[str, Any]) -> Any:
        """The value the paused call returns; raises pydantic.ValidationError."""
        value = self.model.model_validate(answer)
        return getattr(value, "value") if self.bare else value  # noqa: B009 - a dynamic field


def form_for(wait_for_input: Any) -> InputForm | None:
    """The form for ``wait_for_input`` (None for a plain resume / reject)."""
    if wait_for_input is None:
        return None
    if inspect.isclass(wait_for_input) and issubclass(wait_for_input, pydantic.BaseModel):
        return InputForm(wait_for_input, _description(wait_for_input), bare=False)
    model = pydantic.create_model(  # type: ignore[call-overload,unused-ignore]
        "Input", __config__=pydantic.ConfigDict(extra="forbid"), value=(wait_for_input, ...)
    )
    return InputForm(model, None, bare=True)


def _description(model: type[pydantic.BaseModel]) -> str | None:
    explicit = getattr(model, "description", None)
    if isinstance(explicit, str):
        return explicit
    doc = inspect.getdoc(model)
    inherited = {inspect.getdoc(RunInput), inspect.getdoc(pydantic.BaseModel)}
    return doc if doc and doc not in inherited else None
