"""Masking secret values in what Taskbook stores or shows: logs, states, output notebooks.

A process knows the secrets it loaded or saved (``Secret.load``, ``.get()``, ``.save``;
the executor of a deployment run: every secret of the store, see
``papermill_bridge._scrub``). ``redact(text)`` replaces each of them in ``text`` with
``********``. Where the values are found:

- as they are, and as they appear inside a JSON string, a Python ``repr`` or HTML (a
  value with quotes, backslashes or ``<``), since stored details, output notebooks and
  printed dicts hold them in those forms;
- for a JSON secret (``{"user": ..., "password": ...}``), each string in it;
- for a value of several lines (a PEM key), each line too.

Values shorter than ``MIN_LENGTH`` characters are not masked: masking every "1" or "yes"
would garble the logs without hiding anything worth hiding.

``redact`` is called on the store writer's thread and by the console's log formatter;
with no secret known it returns at once (one check of an empty tuple).
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["MASK", "MIN_LENGTH", "active", "forget_all", "redact", "remember"]

MASK = "********"
MIN_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
# What ``redact`` reads: a pattern over every form of every value, replaced whole on
# each change so that readers on other threads never see it half built.
_pattern: tuple[re.Pattern[str], ...] = ()


def remember(value: Any) -> None:
    """Mask ``value`` (a string, or each string in a JSON value) from now on."""
    global _pattern
    forms = {form for text in _strings(value) for form in _forms(text)}
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        # Longest first: a value that contains another is masked whole.
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = (re.compile("|".join(re.escape(v) for v in ordered)),)


def active() -> bool:
    """Whether any value is masked (a cheap check for callers with much to redact)."""
    return bool(_pattern)


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``MASK``."""
    if not _pattern:
        return text
    return _pattern[0].sub(MASK, text)


def forget_all() -> None:
    """Mask nothing any more (for tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = ()


def _strings(value: Any) -> Iterator[str]:
    """The string leaves of ``value`` (and a JSON document a string holds)."""
    if isinstance(value, str):
        if len(value) >= MIN_LENGTH:
            yield value
            yield from _strings(_json_container(value))
            if "\n" in value:  # a PEM key: output notebooks and logs split it in lines
                yield from (line for line in value.splitlines() if len(line) >= MIN_LENGTH)
    elif isinstance(value, dict):
        yield from _many(value.values())
    elif isinstance(value, (list, tuple)):
        yield from _many(value)


def _many(values: Iterable[Any]) -> Iterator[str]:
    for value in values:
        yield from _strings(value)


def _json_container(text: str) -> Any:
    """The dict or list ``text`` is the JSON of, else None (``.get()`` decodes it)."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _forms(text: str) -> set[str]:
    escaped = html.escape(text, quote=False)
    return {
        text,
        json.dumps(text)[1:-1],  # inside a JSON string
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text)[1:-1],  # inside a printed str, dict or list
        escaped,  # inside HTML output
        json.dumps(escaped)[1:-1],
    }
