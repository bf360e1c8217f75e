"""Friendly generated names for flow runs (``calm-otter``), as Prefect gives them."""

from __future__ import annotations

import random

__all__ = ["generate_run_name"]

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crimson", "daring",
    "eager", "fancy", "gentle", "golden", "happy", "jolly", "keen", "lively", "lucky",
    "merry", "nimble", "polite", "proud", "quick", "quiet", "rapid", "silver", "smart",
    "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise", "witty", "zesty",
)  # fmt: skip
_ANIMALS = (
    "badger", "beaver", "bison", "crane", "dingo", "dolphin", "eagle", "falcon", "ferret",
    "gecko", "heron", "ibis", "jackal", "koala", "lemur", "lynx", "marmot", "moose",
    "narwhal", "ocelot", "otter", "panda", "puffin", "quail", "raven", "salmon", "seal",
    "stoat", "tapir", "tiger", "toucan", "walrus", "weasel", "wombat", "yak", "zebra",
)  # fmt: skip


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"
