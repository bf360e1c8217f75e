"""The ``%%task`` line: a cell name and options that mirror ``@task``.

    %%task [NAME] [--retries N] [--retry-delay S[,S...]] [--timeout DURATION]
                  [--cache] [--cache-expiration DURATION] [--refresh-cache]
                  [--tags a,b] [--log-prints | --no-log-prints]

Durations are seconds (``90``, ``1.5``) or a number with a unit: ``500ms``, ``30s``,
``15m``, ``2h``, ``1d``. Bad input raises ``CellOptionError`` naming the problem, with the
usage, before anything runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from kernel_ext._durations import out_of_range
from kernel_ext._errors import ConfigurationError

__all__ = ["USAGE", "CellOptionError", "TaskCellOptions", "parse_duration", "parse_options"]

USAGE = (
    "%%task [NAME] [--retries N] [--retry-delay S[,S...]] [--timeout DURATION] [--cache]\n"
    "              [--cache-expiration DURATION] [--refresh-cache] [--tags a,b]\n"
    "              [--log-prints | --no-log-prints]\n"
    "DURATION: seconds, or a number with ms, s, m, h or d (e.g. 30m, 2h, 1d)."
)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")
_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


class CellOptionError(ConfigurationError):
    """The ``%%task`` line cannot be understood; the message names the problem."""


@dataclass(frozen=True, slots=True)
class TaskCellOptions:
    """What the ``%%task`` line asked for."""

    name: str | None = None
    retries: int = 0
    retry_delay: tuple[float, ...] = ()
    timeout: float | None = None
    cache: bool = False
    cache_expiration: float | None = None
    refresh_cache: bool = False
    tags: tuple[str, ...] = ()
    log_prints: bool = True


def parse_duration(text: str, option: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise CellOptionError(
            f"{option} got {text!r}, which is not a duration; use seconds or a number "
            "with ms, s, m, h or d (e.g. 30m, 2h, 1d)."
        )
    value = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if out_of_range(value):
        raise CellOptionError(
            f"{option} must be more than zero and at most ten years (3650d), got {text!r}."
        )
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CellOptionError(f"%%task: {message}.")


def _parser() -> _Parser:
    parser = _Parser(prog="%%task", add_help=False, allow_abbrev=False)
    parser.add_argument("name", nargs="?")
    parser.add_argument("--retries", default="0")
    parser.add_argument("--retry-delay", default=None)
    parser.add_argument("--timeout", default=None)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--cache-expiration", default=None)
    parser.add_argument("--refresh-cache", action="store_true")
    parser.add_argument("--tags", default="")
    parser.add_argument("--log-prints", dest="log_prints", action="store_true", default=True)
    parser.add_argument("--no-log-prints", dest="log_prints", action="store_false")
    return parser


_PARSER = _parser()


@lru_cache(maxsize=256)  # a notebook runs the same few lines again and again
def parse_options(line: str) -> TaskCellOptions:
    """The options of a ``%%task`` line (frozen, so one parse serves every run)."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise CellOptionError(f"%%task: cannot read the line ({error}).") from None
    args = _PARSER.parse_args(words)
    if args.name is not None and not _NAME.match(args.name):
        raise CellOptionError(
            f"%%task: the name {args.name!r} is not valid; use letters, digits, '_', '-' "
            "or '.', starting with a letter."
        )
    expiration = args.cache_expiration
    return TaskCellOptions(
        name=args.name,
        retries=_retries(args.retries),
        retry_delay=_delays(args.retry_delay),
        timeout=None if args.timeout is None else parse_duration(args.timeout, "--timeout"),
        cache=args.cache or expiration is not None or args.refresh_cache,
        cache_expiration=None
        if expiration is None
        else parse_duration(expiration, "--cache-expiration"),
        refresh_cache=args.refresh_cache,
        tags=tuple(t.strip() for t in args.tags.split(",") if t.strip()),
        log_prints=args.log_prints,
    )


def _retries(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise CellOptionError(f"--retries must be a whole number >= 0, got {text!r}.")
    return int(text)


def _delays(text: str | None) -> tuple[float, ...]:
    if text is None:
        return ()
    delays = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = -1.0
        if out_of_range(value, allow_zero=True):
            raise CellOptionError(
                f"--retry-delay must be seconds >= 0 and at most ten years, one value or a "
                f"comma list (e.g. 1,5,30); got {text!r}."
            )
        delays.append(value)
    return tuple(delays)
