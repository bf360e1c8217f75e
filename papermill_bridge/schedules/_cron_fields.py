"""Parsing a five-field cron expression into the sets of values it allows.

    minute  hour  day-of-month  month          day-of-week
    0-59    0-23  1-31          1-12, jan-dec  0-7 (0 and 7 are Sunday), sun-sat

A field is ``*`` or a comma list of values (``5``), ranges (``1-5``, ``mon-fri``) and steps
(``*/15``, ``1-30/5``); names are case-insensitive. The macros ``@hourly``, ``@daily``
(``@midnight``), ``@weekly``, ``@monthly`` and ``@yearly`` (``@annually``) stand for their
usual five fields.

Days follow Vixie cron: when both day fields are restricted (neither starts with ``*``),
a day matches if either field matches it (``0 0 1 * mon``: the 1st and every Monday);
otherwise it must match both.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from kernel_ext._errors import ConfigurationError

__all__ = ["MONTH_NAMES", "WEEKDAY_NAMES", "CronFields", "parse_cron"]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = tuple(calendar.month_name[1:])  # January ... December
WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_EXAMPLE = "e.g. '0 6 * * *' for 06:00 every day"


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # three-letter names of low, low + 1, ...

    def valid(self) -> str:
        numbers = f"{self.low}-{self.high}"
        if self.name == "day-of-week":
            numbers += " (0 and 7 are Sunday)"
        return f"{numbers} or {self.names[0]}-{self.names[-1]}" if self.names else numbers

    def error(self, got: str, why: str = "") -> ConfigurationError:
        shown = got if got.isascii() and got.isdigit() else repr(got)
        return ConfigurationError(
            f"cron field {self.name!r} got {shown}{why}; valid: {self.valid()}"
        )


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, tuple(name[:3].lower() for name in MONTH_NAMES)),
    _Field("day-of-week", 0, 7, tuple(name[:3].lower() for name in WEEKDAY_NAMES)),
)


@dataclass(frozen=True)
class CronFields:
    """What a cron expression allows: the values of each field, and how its days combine."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    either_day: bool  # both day fields restricted: a day matches if either does
    hourly_or_finer: bool  # the hour field starts with '*': the job follows elapsed time

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        return (in_days or in_weekdays) if self.either_day else (in_days and in_weekdays)


def parse_cron(expression: str) -> CronFields:
    """The fields of ``expression``; a ConfigurationError naming the field if invalid."""
    texts = _split(expression)
    values = [_parse_field(text, spec) for text, spec in zip(texts, _FIELDS, strict=True)]
    weekdays = frozenset(value % 7 for value in values[4])
    fields = CronFields(
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=weekdays,
        either_day=not texts[2].startswith("*") and not texts[4].startswith("*"),
        hourly_or_finer=texts[1].startswith("*"),
    )
    _check_some_day_exists(expression, fields)
    return fields


def _split(expression: str) -> list[str]:
    if not isinstance(expression, str):
        raise ConfigurationError(
            f"a cron expression must be a string ({_EXAMPLE}), got {expression!r}."
        )
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ConfigurationError(
                f"unknown cron macro {text!r}; use one of {', '.join(MACROS)} or five fields "
                f"({_EXAMPLE})."
            )
        text = MACROS[text.lower()]
    texts = text.split()
    if len(texts) != len(_FIELDS):
        raise ConfigurationError(
            f"cron expression {expression!r} has {len(texts)} field(s); expected 5: minute hour "
            f"day-of-month month day-of-week ({_EXAMPLE})."
        )
    return texts


def _parse_field(text: str, spec: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec))
    return values


def _parse_item(item: str, spec: _Field) -> range:
    body, slash, step_text = item.partition("/")
    step = _step(item, step_text, spec) if slash else 1
    if body == "*":
        return range(spec.low, spec.high + 1, step)
    first, dash, last = body.partition("-")
    if not dash:
        if slash:
            raise spec.error(
                item,
                f": a step needs a range or '*', write '{body}-{spec.high}/"
                f"{step_text}' or '*/{step_text}'",
            )
        value = _value(first, spec)
        return range(value, value + 1)
    low, high = _value(first, spec), _value(last, spec)
    if low > high:
        raise spec.error(item, f": the range runs backwards, write '{last}-{first}' or a list")
    return range(low, high + 1, step)


def _step(item: str, text: str, spec: _Field) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise spec.error(item, ": a step must be a whole number of at least 1")
    return int(text)


def _value(text: str, spec: _Field) -> int:
    if text.isascii() and text.isdigit():
        value = int(text)
        if spec.low <= value <= spec.high:
            return value
    elif text.lower() in spec.names:
        return spec.low + spec.names.index(text.lower())
    raise spec.error(text)


def _check_some_day_exists(expression: str, fields: CronFields) -> None:
    # Every month has every weekday, and over the years every date falls on every weekday:
    # only a day of the month that none of the months has can make an expression never run.
    if fields.either_day or any(
        day <= calendar.monthrange(2000, month)[1] for month in fields.months for day in fields.days
    ):
        return
    days = ", ".join(map(str, sorted(fields.days)))
    months = ", ".join(MONTH_NAMES[month - 1] for month in sorted(fields.months))
    raise ConfigurationError(
        f"cron expression {expression!r} never runs: day-of-month {days} does not occur in "
        f"{months}; pick days that exist in those months."
    )
