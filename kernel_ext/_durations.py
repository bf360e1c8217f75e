"""Limits on every duration an option takes: finite, and at most ten years.

A wait longer than the machine can express (``threading`` caps timeouts near 292 years,
``datetime`` overflows sooner) would otherwise be accepted at decoration time and fail
only after the body ran; ``nan`` and ``inf`` compare false against every bound.
"""

from __future__ import annotations

import math

__all__ = ["MAX_SECONDS", "out_of_range", "seconds_from_env"]

MAX_SECONDS = 10 * 365 * 86_400.0  # ten years


def out_of_range(seconds: float, allow_zero: bool = False) -> bool:
    """True if ``seconds`` is not a finite duration within (0 or more, ten years]."""
    try:
        if not math.isfinite(seconds) or seconds > MAX_SECONDS:
            return True
    except OverflowError:  # an int too large for a float
        return True
    return seconds < 0 if allow_zero else seconds <= 0


def seconds_from_env(name: str, default: float, low: float, high: float) -> float:
    """A duration from the environment, kept within [low, high]; unset or not a number:
    ``default`` (a bad value must not break ``import kernel_ext`` or a kernel)."""
    import os

    text = os.environ.get(name)
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    if not math.isfinite(value):
        return default
    return min(max(value, low), high)
