"""``Secret``: Prefect's secret block, kept encrypted in Taskbook's store.

    from kernel_ext.secrets import Secret          # or: from prefect.blocks.system import Secret

    Secret(value="sk-...").save("openai")          # once, or `taskbook secrets set openai`
    key = Secret.load("openai").get()              # in the flow, wherever it runs

The value is encrypted before it reaches the store and decrypted where it is loaded
(``kernel_ext._secret_box``: ``TASKBOOK_SECRET_KEY`` or the home's key file). Its
``repr`` shows ``Secret('**********')``, and once this process loaded or saved it, it is
masked as ``********`` in the run's stored logs, captured prints and state messages
(``kernel_ext._redaction``), and in a deployment run's output notebook.

Names follow Prefect's block names: lowercase letters, digits and dashes. Under a
profile (``TASKBOOK_PROFILE=prod``), ``load("db")`` reads ``prod-db`` first, then ``db``;
``save`` and ``delete`` act on ``prod-db`` (see ``kernel_ext._profiles``).
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from typing import Annotated, Any, Generic, Self, TypeVar, Union, cast

from pydantic import BaseModel, Field, JsonValue, PrivateAttr, SecretStr, StrictStr, field_validator
from pydantic import Secret as PydanticSecret

from kernel_ext import _profiles, _redaction, _secret_box
from kernel_ext._async_bridge import off_loop
from kernel_ext._dispatch import runs_async
from kernel_ext._errors import ConfigurationError, InvalidNameError, SecretNotFound

__all__ = ["Secret"]

_SecretValueType = Union[
    Annotated[StrictStr, Field(title="string")],
    Annotated[JsonValue, Field(title="JSON")],
]
T = TypeVar("T", bound=_SecretValueType)

MAX_NAME_LENGTH = 255  # the secrets.name column
_NAME = re.compile(r"[a-z0-9-]+")
# ``save`` returns a block document id in Prefect; a secret's id here is derived from
# its stored name, so it is the same every time and everywhere.
_ID_NAMESPACE = uuid.UUID("5d0c4a8e-7a4b-4f53-9a57-6b1f0c9f3e21")
_warned_stores: set[str] = set()  # warned that the key is this machine's (see save)


class Secret(BaseModel, Generic[T]):
    """A value that must not live in the notebook: an API key, a password, a JSON
    document of credentials. Masked when shown; encrypted at rest."""

    value: Union[SecretStr, PydanticSecret[T]] = Field(
        default=...,
        description="A value that should be kept secret.",
        examples=["sk-1234567890", {"username": "johndoe", "password": "s3cr3t"}],
        json_schema_extra={"writeOnly": True, "format": "password"},
    )
    _name: str | None = PrivateAttr(default=None)

    @field_validator("value", mode="before")
    @classmethod
    def validate_value(cls, value: Any) -> Any:
        if isinstance(value, (PydanticSecret, SecretStr)):
            return value
        return PydanticSecret[type(value)](value)  # type: ignore[misc,operator]

    def __str__(self) -> str:
        return repr(self)  # as Prefect's blocks: Secret(value=Secret('**********'))

    def get(self) -> T | str:
        """The value; a string holding JSON comes back decoded, as in Prefect."""
        value = self.value.get_secret_value()
        _redaction.remember(value)
        try:
            if isinstance(value, str):
                return cast(T, json.loads(value))
            return cast(T, value)
        except (TypeError, json.JSONDecodeError):
            return value

    def save(
        self, name: str | None = None, overwrite: bool = False, *, _sync: bool | None = None
    ) -> uuid.UUID:
        """Encrypt the value and store it as ``name`` (the name it was loaded or saved
        under when None); returns the secret's id. ``SecretAlreadyExists`` if the name is
        taken and not ``overwrite``."""
        if runs_async(_sync):
            return cast(uuid.UUID, self.asave(name, overwrite))  # awaited by the caller
        return self._save_now(name, overwrite)

    async def asave(self, name: str | None = None, overwrite: bool = False) -> uuid.UUID:
        return await off_loop(lambda: self._save_now(name, overwrite))

    @classmethod
    def load(cls, name: str, validate: bool = True, *, _sync: bool | None = None) -> Self:
        """The secret saved as ``name`` (under a profile: the profile's first), decrypted;
        ``SecretNotFound`` (a ``ValueError``) if there is none. ``validate`` is Prefect's
        and has nothing to do here: a secret has one schema."""
        if runs_async(_sync):
            return cast(Self, cls.aload(name, validate))  # awaited by the caller
        return cls._load_now(name)

    @classmethod
    async def aload(cls, name: str, validate: bool = True) -> Self:
        return await off_loop(lambda: cls._load_now(name))

    @classmethod
    def delete(cls, name: str, *, _sync: bool | None = None) -> None:
        """Remove secret ``name`` (under a profile, the profile's); ``SecretNotFound`` if
        there is none."""
        if runs_async(_sync):
            return cast(None, cls.adelete(name))  # awaited by the caller
        cls._delete_now(name)

    @classmethod
    async def adelete(cls, name: str) -> None:
        await off_loop(lambda: cls._delete_now(name))

    def _save_now(self, name: str | None, overwrite: bool) -> uuid.UUID:
        from kernel_ext.store import get_store

        if name is None:
            name = self._name
        if name is None:
            raise ConfigurationError(
                "This secret has no name to be saved under; call `save` with one, e.g. "
                '`Secret(value=...).save("openai")`.'
            )
        stored = check_name(_profiles.stored_name(check_name(name)))
        value = self.value.get_secret_value()
        _check_value(value)
        store = get_store()
        store.save_secret(stored, _secret_box.encrypt(stored, value), overwrite)
        _redaction.remember(value)
        self._name = name
        _warn_if_unshared_key(stored, store.url, store.shared)
        return uuid.uuid5(_ID_NAMESPACE, stored)

    @classmethod
    def _load_now(cls, name: str) -> Self:
        from kernel_ext.store import get_store

        names = _profiles.lookup_names(check_name(name))
        found = get_store().read_secret(names)
        if found is None:
            raise SecretNotFound(_missing(name, names), name=name)
        value = _secret_box.decrypt(found["name"], found["ciphertext"])
        _redaction.remember(value)
        secret = cls(value=value)
        secret._name = name
        return secret

    @classmethod
    def _delete_now(cls, name: str) -> None:
        from kernel_ext.store import get_store

        stored = _profiles.stored_name(check_name(name))
        if not get_store().delete_secret(stored):
            raise SecretNotFound(_missing(name, [stored]), name=name)


def _warn_if_unshared_key(name: str, store_url: str, shared: bool) -> None:
    """A store on a server is shared by machines that each have a key file of their
    own, so a secret saved with this machine's cannot be loaded on the others: say so,
    once per store."""
    if not shared or not _secret_box.key_is_this_machines() or store_url in _warned_stores:
        return
    _warned_stores.add(store_url)
    warnings.warn(
        f"Secret {name!r} is encrypted with this machine's key file "
        f"({_secret_box.key_source()}), but the store is on a server (PostgreSQL): workers "
        f"and kernels on other machines cannot decrypt it. {_secret_box.SHARED_KEY_ADVICE}",
        UserWarning,
        stacklevel=4,  # the caller of save()
    )


def check_name(name: str) -> str:
    """``name`` if it is a valid secret name (Prefect's block names), else
    ``InvalidNameError`` saying what is allowed."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(
            f'A secret needs a name, e.g. `Secret(value=...).save("openai")`; got {name!r}.'
        )
    if not _NAME.fullmatch(name):
        raise InvalidNameError(
            f"Secret name {name!r} must only contain lowercase letters, numbers, and "
            f"dashes, e.g. {_suggest(name)!r}."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"Secret name {name[:20]!r}... is {len(name)} characters long; a secret name "
            f"(with its profile) has at most {MAX_NAME_LENGTH}."
        )
    return name


def _suggest(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "openai-key"


def _check_value(value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as error:  # NaN or an infinity, or a list that holds itself
        reason = "NaN and Infinity are not JSON" if "float" in str(error) else str(error)
        raise ConfigurationError(f"A secret's value must be a string or JSON: {reason}.") from None
    except TypeError:
        raise ConfigurationError(
            f"A secret's value must be a string or JSON (a dict, list, number, true/false "
            f"or null); got a {type(value).__name__}."
        ) from None


def _missing(name: str, names: list[str]) -> str:
    looked = " or ".join(repr(n) for n in names)
    command = f"taskbook secrets set {_profiles.command_args(names[0])}"
    return (
        f"Unable to find secret {looked}; save it with `{command}` "
        f"(or `Secret(value=...).save({name!r})`), or list them with `taskbook secrets ls`."
    )
