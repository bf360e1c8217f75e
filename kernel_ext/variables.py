"""``Variable``: Prefect's named JSON values, shared by every process on the store.

    from kernel_ext.variables import Variable      # or: from prefect.variables import Variable

    Variable.set("batch_size", 500)                # or `taskbook variables set batch_size 500`
    size = Variable.get("batch_size", default=100)

Variables are for configuration, not for secrets: their values are stored and shown as
they are (use ``Secret`` for credentials). Names are lowercase letters, digits, dashes
and underscores, at most 255 characters; values are JSON (a string, number, true/false,
null, list or dict) of at most 5000 characters, as in Prefect. Under a profile
(``TASKBOOK_PROFILE=prod``), ``get("db")`` reads ``prod-db`` first, then ``db``; ``set``
and ``unset`` act on ``prod-db`` (see ``kernel_ext._profiles``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, Union, cast

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from kernel_ext import _profiles
from kernel_ext._async_bridge import off_loop
from kernel_ext._dispatch import runs_async
from kernel_ext._errors import ConfigurationError, InvalidNameError

__all__ = ["Variable"]

MAX_VARIABLE_NAME_LENGTH = 255
MAX_VARIABLE_VALUE_LENGTH = 5000
_NAME = re.compile(r"[a-z0-9_-]+")

VariableValue = Union[
    StrictStr, StrictInt, StrictBool, StrictFloat, None, dict[str, Any], list[Any]
]
T = TypeVar("T")


class Variable(BaseModel, Generic[T]):
    """A named, mutable JSON value shared across flows, tasks and deployments."""

    name: str = Field(
        default=...,
        description="The name of the variable",
        examples=["my_variable"],
        max_length=MAX_VARIABLE_NAME_LENGTH,
    )
    value: VariableValue = Field(
        default=..., description="The value of the variable", examples=["my-value"]
    )
    tags: list[str] | None = Field(default=None)

    @classmethod
    def set(
        cls,
        name: str,
        value: Any,
        tags: list[str] | None = None,
        overwrite: bool = False,
        *,
        _sync: bool | None = None,
    ) -> Variable[Any]:
        """Set variable ``name`` to ``value``; returns the variable as stored. If it
        exists, ``overwrite=True`` is needed (its tags are replaced too), else
        ``VariableAlreadyExists`` (a ``ValueError``)."""
        if runs_async(_sync):
            return cast("Variable[Any]", cls.aset(name, value, tags, overwrite))
        return cls._set_now(name, value, tags, overwrite)

    @classmethod
    async def aset(
        cls, name: str, value: Any, tags: list[str] | None = None, overwrite: bool = False
    ) -> Variable[Any]:
        return await off_loop(lambda: cls._set_now(name, value, tags, overwrite))

    @classmethod
    def get(cls, name: str, default: Any = None, *, _sync: bool | None = None) -> Any:
        """The value of variable ``name`` (under a profile: the profile's first), or
        ``default`` if there is none."""
        if runs_async(_sync):
            return cls.aget(name, default)
        return cls._get_now(name, default)

    @classmethod
    async def aget(cls, name: str, default: Any = None) -> Any:
        return await off_loop(lambda: cls._get_now(name, default))

    @classmethod
    def unset(cls, name: str, *, _sync: bool | None = None) -> bool:
        """Remove variable ``name`` (under a profile, the profile's): True if it was
        there, False if not."""
        if runs_async(_sync):
            return cast(bool, cls.aunset(name))
        return cls._unset_now(name)

    @classmethod
    async def aunset(cls, name: str) -> bool:
        return await off_loop(lambda: cls._unset_now(name))

    @classmethod
    def _set_now(
        cls, name: str, value: Any, tags: list[str] | None, overwrite: bool
    ) -> Variable[Any]:
        from kernel_ext.store import get_store

        stored = check_name(_profiles.stored_name(check_name(name)))
        value = check_value(value)
        record = get_store().set_variable(stored, value, _check_tags(tags), overwrite)
        return cls(name=record["name"], value=record["value"], tags=record["tags"])

    @classmethod
    def _get_now(cls, name: str, default: Any) -> Any:
        from kernel_ext.store import get_store

        if not isinstance(name, str):
            raise InvalidNameError(f"A variable's name is a string; got {name!r}.")
        found = get_store().read_variable(_profiles.lookup_names(name))
        return default if found is None else found["value"]

    @classmethod
    def _unset_now(cls, name: str) -> bool:
        from kernel_ext.store import get_store

        return get_store().unset_variable(_profiles.stored_name(check_name(name)))


def check_name(name: str) -> str:
    """``name`` if it is a valid variable name (Prefect's rule), else ``InvalidNameError``."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(
            f'A variable needs a name, e.g. `Variable.set("batch_size", 500)`; got {name!r}.'
        )
    if not _NAME.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "my_variable"
        raise InvalidNameError(
            f"Variable name {name!r} must only contain lowercase letters, numbers, and "
            f"dashes or underscores, e.g. {suggestion!r}."
        )
    if len(name) > MAX_VARIABLE_NAME_LENGTH:
        raise InvalidNameError(
            f"Variable name {name[:20]!r}... is {len(name)} characters long; a variable "
            f"name (with its profile) has at most {MAX_VARIABLE_NAME_LENGTH}."
        )
    return name


def check_value(value: Any) -> Any:
    """``value`` as stored (a tuple becomes a list), if it is a JSON value Prefect takes;
    else ``ConfigurationError`` saying why."""
    _check_keys(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as error:  # NaN or an infinity, or a list that holds itself
        reason = "NaN and Infinity are not JSON" if "float" in str(error) else str(error)
        raise ConfigurationError(
            f"Variable value must be serializable to JSON: {reason}; store a number, or "
            f"text such as 'NaN'."
        ) from None
    except TypeError:
        raise ConfigurationError(
            f"Variable value must be serializable to JSON (a string, number, true/false, "
            f"null, list or dict); got a {type(value).__name__}."
        ) from None
    if value is not None and len(text) > MAX_VARIABLE_VALUE_LENGTH:
        raise ConfigurationError(
            f"Variable value must be less than {MAX_VARIABLE_VALUE_LENGTH} characters as "
            f"JSON; this one is {len(text)}. Keep large data in a file or a result instead."
        )
    return json.loads(text)


def _check_keys(value: Any) -> None:
    """JSON objects have string keys: ``{1: "a"}`` would come back as ``{"1": "a"}``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise ConfigurationError(
                    f"Variable value must be serializable to JSON: the key {key!r} of a dict "
                    f"is not a string."
                )
            _check_keys(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            _check_keys(inner)


def _check_tags(tags: Sequence[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigurationError(f"A variable's tags are a list of strings; got {tags!r}.")
    return list(tags)
