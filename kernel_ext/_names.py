"""Friendly generated names for flow runs (``calm-otter``), as Prefect gives them."""

from __future__ import annotations

import random

__all__ = ["BANNED_CHARACTERS", "check_name", "check_run_name", "generate_run_name", "run_name"]

_ADJECTIVES = (
    "amber",
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "cosmic",
    "crimson",
    "daring",
    "eager",
    "fancy",
    "gentle",
    "golden",
    "happy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "merry",
    "nimble",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "silver",
    "smart",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
)
_ANIMALS = (
    "badger",
    "beaver",
    "bison",
    "crane",
    "dingo",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "gecko",
    "heron",
    "ibis",
    "jackal",
    "koala",
    "lemur",
    "lynx",
    "marmot",
    "moose",
    "narwhal",
    "ocelot",
    "otter",
    "panda",
    "puffin",
    "quail",
    "raven",
    "salmon",
    "seal",
    "stoat",
    "tapir",
    "tiger",
    "toucan",
    "walrus",
    "weasel",
    "wombat",
    "yak",
    "zebra",
)


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


# As in Prefect: these characters cannot be part of a flow or task name.
BANNED_CHARACTERS = ("/", "%", "&", ">", "<")


def check_name(name: str) -> str:
    """``name``, refused if it has a character a name cannot have."""
    from kernel_ext._errors import InvalidNameError

    if not name or any(c in name for c in BANNED_CHARACTERS):
        raise InvalidNameError(
            f"Name {name!r} contains an invalid character; it must not contain any of "
            f"{' '.join(BANNED_CHARACTERS)}."
        )
    return name


def check_run_name(owner: str, option: str, value: object) -> object:
    """A run-name option: a template string, a callable or None."""
    from kernel_ext._errors import OptionTypeError

    if value is None or isinstance(value, str) or callable(value):
        return value
    raise OptionTypeError(
        f"{owner}: {option} must be a template string such as 'run-{{x}}' or a callable "
        f"returning one, got {type(value).__name__}."
    )


def run_name(template: object, parameters: dict[str, object], option: str) -> str:
    """A run's name from its template (``.format(**parameters)``) or callable. A callable
    that takes ``parameters`` gets them (as Prefect passes them to ``task_run_name``)."""
    if callable(template):
        import inspect

        try:
            takes = "parameters" in inspect.signature(template).parameters
        except (TypeError, ValueError):
            takes = False
        name = template(parameters=parameters) if takes else template()
        if not isinstance(name, str):
            raise TypeError(
                f"The callable {option} returned {type(name).__name__}; it must return a str."
            )
        return name
    assert isinstance(template, str)
    return template.format(**parameters)
