"""Retry policy: how many attempts, how long to wait between them, and whether to retry.

``retry_delay_seconds`` is a number, a per-attempt list (the last value repeats), or
``exponential_backoff(backoff_factor=...)``. ``retry_jitter_factor`` spreads delays by up to
that fraction so that many failing runs do not retry in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from kernel_ext._durations import out_of_range
from kernel_ext._errors import ConfigurationError

__all__ = ["RetryPolicy", "exponential_backoff"]

DelaySpec = Union[float, Sequence[float], Callable[[int], Sequence[float]], None]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Delays of factor, 2*factor, 4*factor, ... seconds: ``retry_delay_seconds=...``."""
    if backoff_factor < 0:
        raise ConfigurationError(f"backoff_factor must be >= 0, got {backoff_factor}.")

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**attempt for attempt in range(retries)]

    return delays


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Validated retry options of a task or flow."""

    retries: int
    delays: tuple[float, ...]
    jitter_factor: float | None
    condition: Callable[..., bool] | None

    @classmethod
    def build(
        cls,
        owner: str,
        retries: int | None,
        delay: DelaySpec,
        jitter_factor: float | None,
        condition: Callable[..., bool] | None,
    ) -> RetryPolicy:
        count = _check_retries(owner, retries)
        if jitter_factor is not None and jitter_factor < 0:
            raise ConfigurationError(
                f"{owner}: retry_jitter_factor must be >= 0, got {jitter_factor}."
            )
        if condition is not None and not callable(condition):
            raise ConfigurationError(f"{owner}: retry_condition_fn must be callable.")
        return cls(count, _delays(owner, count, delay), jitter_factor, condition)

    def delay_before(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        if not self.delays:
            return 0.0
        base = self.delays[min(retry_number, len(self.delays)) - 1]
        if self.jitter_factor:
            base = max(0.0, base * (1 + random.uniform(-self.jitter_factor, self.jitter_factor)))
        return base

    def should_retry(self, run_count: int, call_condition: Callable[[], Any]) -> bool:
        if run_count > self.retries:
            return False
        return self.condition is None or bool(call_condition())


def _check_retries(owner: str, retries: int | None) -> int:
    if retries is None:
        return 0
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigurationError(f"{owner}: retries must be a whole number >= 0, got {retries!r}.")
    return retries


def _delays(owner: str, retries: int, delay: DelaySpec) -> tuple[float, ...]:
    if delay is None:
        return ()
    if callable(delay):
        delay = delay(max(retries, 1))
    values = [delay] if isinstance(delay, (int, float)) else list(delay)
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or out_of_range(value, allow_zero=True)
        ):
            raise ConfigurationError(
                f"{owner}: retry_delay_seconds must be numbers >= 0 and at most ten years, "
                f"got {value!r}."
            )
    return tuple(float(v) for v in values)
