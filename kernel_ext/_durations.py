"""Limits on every duration an option takes: finite, and at most ten years.

A wait longer than the machine can express (``threading`` caps timeouts near 292 years,
``datetime`` overflows sooner) would otherwise be accepted at decoration time and fail
only after the body ran; ``nan`` and ``inf`` compare false against every bound.
"""

from __future__ import annotations

import math

__all__ = ["MAX_SECONDS", "out_of_range"]

MAX_SECONDS = 10 * 365 * 86_400.0  # ten years


def out_of_range(seconds: float, allow_zero: bool = False) -> bool:
    """True if ``seconds`` is not a finite duration within (0 or more, ten years]."""
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        return True
    return seconds < 0 if allow_zero else seconds <= 0
