"""Stable hashes of Python values, for cache keys.

A value is hashed from its pickle (protocol 5), which is stable across processes for the
same value; cloudpickle is the fallback for lambdas and local classes. NumPy arrays and
pandas objects take a fast path over their raw buffers when those libraries are loaded.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from typing import Any

__all__ = ["UnhashableValue", "hash_text", "hash_value"]


class UnhashableValue(Exception):
    """The value cannot be pickled, so it has no stable hash (internal; callers wrap it)."""


_BLANK = hashlib.blake2b(digest_size=16)  # copied: cheaper than making one with its options


def hash_text(text: str) -> str:
    digest = _BLANK.copy()
    digest.update(text.encode())
    return digest.hexdigest()


_SCALARS = (str, bytes, int, float, bool, type(None))
_EXACT_SCALARS = frozenset(_SCALARS)


def hash_value(value: Any) -> str:
    if type(value) in _EXACT_SCALARS:  # the common argument: what _feed does, in one step
        return hash_text(repr((type(value).__name__, value)))
    digest = _BLANK.copy()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, _SCALARS):
        digest.update(repr((type(value).__name__, value)).encode())
        return
    if _feed_array(digest, value):
        return
    try:
        digest.update(pickle.dumps(value, protocol=5))
        return
    except Exception as error:
        first_error = error
    try:
        import cloudpickle

        digest.update(cloudpickle.dumps(value, protocol=5))
    except Exception:
        raise UnhashableValue(f"{type(first_error).__name__}: {first_error}") from first_error


def _feed_array(digest: Any, value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype != object:
        digest.update(repr((value.dtype.str, value.shape)).encode())
        digest.update(numpy.ascontiguousarray(value).data)
        return True
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        hashed = pandas.util.hash_pandas_object(value, index=True)
        digest.update(repr((type(value).__name__, list(getattr(value, "columns", [])))).encode())
        digest.update(hashed.to_numpy().tobytes())
        return True
    return False
