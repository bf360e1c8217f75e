"""Cache keys stay what they were: a result persisted by an earlier version is found.

The expected keys were computed by the code before the cached path was made faster; a
change to any of them would turn every cached result on disk into a miss.
"""

from __future__ import annotations

import enum
import threading

import pytest

from kernel_ext import CacheKeyError
from kernel_ext._hashing import hash_text, hash_value
from kernel_ext.cache_policies import FLOW_PARAMETERS, INPUTS


class _Level(enum.IntEnum):
    LOW = 1


class _Name(str):
    pass


def test_hashes_of_text_and_values_are_unchanged() -> None:
    assert hash_text("a|b") == "b5404f4000b980c89598060458b27e2a"
    assert hash_value(5) == "60ccd677a04027a364b391b5b2ff9b48"
    assert hash_value("é") == "e2ab08b263312b2823c06fc35be909fe"
    assert hash_value(None) == "74d638a9a689b40c425f5df914a02e47"
    assert hash_value([1, "a", None]) == "0bb4fb8c9798d55a821ad6393a15de61"


@pytest.mark.parametrize("value", [True, 1, 1.0, _Level.LOW, "LOW", _Name("LOW"), b"LOW"])
def test_equal_scalars_of_other_types_hash_apart(value: object) -> None:
    others = {hash_value(v) for v in (True, 1, 1.0, _Level.LOW, "LOW", _Name("LOW"), b"LOW")}
    assert len(others) == 7 and hash_value(value) in others


def test_subclasses_of_scalars_hash_by_their_own_name() -> None:
    assert hash_value(_Level.LOW) != hash_value(1)
    assert hash_value(_Name("LOW")) != hash_value("LOW")


def test_policy_keys_are_unchanged() -> None:
    inputs = {"y": "a", "x": 1, "z": [1, 2]}
    assert INPUTS.compute_key(None, inputs, {}) == "2f610c8f474704fbaa884b23680fd772"
    assert (INPUTS - "z").compute_key(None, inputs, {}) == "3ab2a20070ec3f766be0e94b0d20c101"
    compound = INPUTS + FLOW_PARAMETERS
    key = compound.compute_key(None, {"x": 1.5}, {"p": True})
    assert key == "0dc973db768b6cf06a154dc05ec1b547"


def test_an_input_that_cannot_be_hashed_is_named() -> None:
    with pytest.raises(CacheKeyError, match=r"The input 'lock' of task 'task' \(lock\)"):
        INPUTS.compute_key(None, {"a": 1, "lock": threading.Lock()}, {})


def test_an_excluded_input_that_cannot_be_hashed_is_left_out() -> None:
    key = (INPUTS - "lock").compute_key(None, {"a": 1, "lock": threading.Lock()}, {})
    assert key == INPUTS.compute_key(None, {"a": 1}, {})
