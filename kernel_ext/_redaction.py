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

Values shorter than ``MIN_LENGTH`` characters are not masked, nor ``true``, ``false`` and
``null`` (a JSON secret's flags): masking every "1" or "yes" would garble the logs without
hiding anything worth hiding.

JSON is masked as values, never as text (``redact_value``): only its strings are, so a
secret "20240101" or "true" cannot replace a number or a keyword and leave a document
that no longer parses. A number, true/false or null equal to a secret is kept as it is
(a stored value keeps its type); the same value in text is masked. ``in_json(text)``
tells, without parsing, whether a JSON document may need it.

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

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "active",
    "forget_all",
    "in_json",
    "redact",
    "redact_value",
    "remember",
]

MASK = "********"
MIN_LENGTH = 4

# Words a JSON secret holds as flags; they hide nothing (see MIN_LENGTH).
_NOT_SECRET = frozenset({"true", "false", "null", "True", "False", "None"})

_lock = threading.Lock()
_values: set[str] = set()
# What ``redact`` and ``in_json`` read: a pattern over every form of every value, and one
# over those forms as a JSON document's text holds them. Replaced whole on each change,
# so that readers on other threads never see them half built.
_pattern: tuple[re.Pattern[str], ...] = ()


def remember(value: Any) -> None:
    """Mask ``value`` (a string, or each string in a JSON value) from now on."""
    global _pattern
    forms = {form for text in _strings(value) for form in _forms(text)}
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        encoded = {json.dumps(v, ensure_ascii=a)[1:-1] for v in _values for a in (True, False)}
        _pattern = (_alternation(_values), _alternation(encoded))


def active() -> bool:
    """Whether any value is masked (a cheap check for callers with much to redact)."""
    return bool(_pattern)


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``MASK``."""
    if not _pattern:
        return text
    return _pattern[0].sub(MASK, text)


def redact_value(value: Any) -> Any:
    """``value`` (parsed JSON: dicts, lists, strings, numbers) with the known secrets
    masked in its strings; keys, numbers, true/false and null are kept. ``value`` itself
    if nothing was masked, so callers can tell with ``is``."""
    if not _pattern:
        return value
    return _masked(value, _pattern[0])


def in_json(text: str) -> bool:
    """Whether a string of the JSON document ``text`` may hold a known value: when not,
    ``redact_value`` of the parsed document would change nothing (a cheap check first)."""
    return bool(_pattern) and _pattern[1].search(text) is not None


def forget_all() -> None:
    """Mask nothing any more (for tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = ()


def _alternation(values: set[str]) -> re.Pattern[str]:
    # Longest first: a value that contains another is masked whole.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


def _masked(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        masked = pattern.sub(MASK, value)
        return value if masked == value else masked
    if isinstance(value, dict):
        items = {key: _masked(item, pattern) for key, item in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, (list, tuple)):
        listed = [_masked(item, pattern) for item in value]
        return value if all(a is b for a, b in zip(listed, value, strict=True)) else listed
    return value


def _strings(value: Any) -> Iterator[str]:
    """The string leaves of ``value`` (and a JSON document a string holds)."""
    if isinstance(value, str):
        if len(value) >= MIN_LENGTH and value not in _NOT_SECRET:
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
    quoted = repr(text)[1:-1]
    return {
        text,
        json.dumps(text)[1:-1],  # inside a JSON string
        json.dumps(text, ensure_ascii=False)[1:-1],
        quoted,  # inside a printed str, dict or list
        json.dumps(quoted)[1:-1],  # a printed dict, quoted in JSON text (a log line's)
        escaped,  # inside HTML output
        json.dumps(escaped)[1:-1],
    }
