"""Profiles: one code base, a prod and a staging set of secrets and variables.

Prefect keeps environments apart with workspaces. Taskbook keeps one store and a name
prefix: with the profile ``prod`` (``TASKBOOK_PROFILE=prod``, which a deployment's runs
get from the deployment's profile), ``Secret.load("warehouse")`` and
``Variable.get("warehouse")`` read ``prod-warehouse``, and fall back to ``warehouse``, the
value every profile shares. Saving, setting and deleting under a profile write the
profile's own name (``prod-warehouse``), so a run changes its own environment's value,
never the shared one. Without a profile, names are used as they are.

A profile is lowercase letters, digits and dashes (so ``prod-x`` is a valid secret name
and a valid variable name), at most ``MAX_LENGTH`` characters.
"""

from __future__ import annotations

import re

from kernel_ext import _settings
from kernel_ext._errors import InvalidNameError

__all__ = [
    "MAX_LENGTH",
    "check_profile",
    "command_args",
    "current_profile",
    "lookup_names",
    "stored_name",
]

MAX_LENGTH = 64  # the deployments.profile column
_PROFILE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def current_profile() -> str | None:
    """This process's profile (``TASKBOOK_PROFILE``), or None."""
    value = _settings.profile()
    return check_profile(value) if value else None


def check_profile(profile: str) -> str:
    """``profile`` if it is a valid profile name, else ``InvalidNameError`` saying why."""
    if not isinstance(profile, str) or not _PROFILE.fullmatch(profile):
        raise InvalidNameError(
            f"The profile {profile!r} must be lowercase letters, digits and dashes "
            f"(not starting or ending with one), e.g. `prod` or `staging-eu`."
        )
    if len(profile) > MAX_LENGTH:
        raise InvalidNameError(
            f"The profile {profile[:20]!r}... is {len(profile)} characters long; a profile "
            f"has at most {MAX_LENGTH}."
        )
    return profile


def lookup_names(name: str) -> list[str]:
    """The names to look ``name`` up under, first match wins: the profile's, then its own."""
    profile = current_profile()
    if profile is None:
        return [name]
    return [f"{profile}-{name}", name]


def stored_name(name: str) -> str:
    """The name that saving ``name`` writes under this process's profile."""
    profile = current_profile()
    return name if profile is None else f"{profile}-{name}"


def command_args(stored: str) -> str:
    """What a ``taskbook secrets``/``variables`` command takes to act on the stored name
    ``stored`` under this process's profile: ``db --profile prod`` for ``prod-db``, as the
    command would prefix ``prod-db`` again under ``TASKBOOK_PROFILE=prod``."""
    profile = current_profile()
    if profile is None or not stored.startswith(f"{profile}-"):
        return stored
    return f"{stored.removeprefix(f'{profile}-')} --profile {profile}"
