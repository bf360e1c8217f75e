"""Concurrency and rate limits across every process on the store, with Prefect's names.

    from kernel_ext.concurrency import concurrency, rate_limit

    with concurrency("gpu", occupy=1):     # at most N holders at once (N set once:
        train()                             #   `taskbook limits set gpu 2`)

    rate_limit("openai", per_second=5)     # at most 5 starts a second, everywhere
    reply = client.chat(...)

A limit is a name in the store. The same name also bounds the task runs *tagged* with
it: with ``taskbook limits set openai 4``, at most four runs of ``@task(tags=["openai"])``
run at once, in all kernels, workers and Dask workers that share the store; the others
wait in state ``AwaitingConcurrencySlot``. Slots are leases that their holder renews, so
a process that dies gives its slots back within ``lease_seconds`` (30 s by default).

A name with no limit in the store lets the caller through, with a warning once per name
(``strict=True`` raises instead), so a notebook runs before anyone has set its limits.
Both forms work in ``async`` code too (``async with concurrency(...)``,
``await rate_limit_async(...)``); waiting then happens off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

from kernel_ext._limits import DEFAULT_LEASE_SECONDS, Lease, acquire_slots, wait_for_rate

__all__ = ["concurrency", "rate_limit", "rate_limit_async"]


def _names(names: str | Sequence[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


class concurrency:  # named like Prefect's context manager
    """Hold ``occupy`` slots of each limit in ``names`` for the duration of the block.

    Waits for free slots (up to ``timeout_seconds``, then ``ConcurrencySlotTimeout``);
    all limits are taken at once or not at all, so two blocks taking the same limits in
    another order cannot deadlock.
    """

    def __init__(
        self,
        names: str | Sequence[str],
        occupy: int = 1,
        timeout_seconds: float | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        strict: bool = False,
    ) -> None:
        self.names = _names(names)
        self.occupy = occupy
        self.timeout_seconds = timeout_seconds
        self.lease_seconds = lease_seconds
        self.strict = strict
        self._lease: Lease | None = None

    def __repr__(self) -> str:
        return f"concurrency({self.names!r}, occupy={self.occupy})"

    def _acquire(self) -> None:
        self._lease = acquire_slots(
            self.names, self.occupy, self.timeout_seconds, self.lease_seconds, self.strict
        )

    def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    def __enter__(self) -> concurrency:
        self._acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    async def __aenter__(self) -> concurrency:
        await asyncio.to_thread(self._acquire)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self._release)


def rate_limit(
    names: str | Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """Wait until each rate limit in ``names`` allows ``occupy`` more starts.

    ``per_second`` sets the limit's rate (creating the limit if needed), so
    ``rate_limit("openai", per_second=5)`` works with no setup; ``burst`` lets that
    many starts through at once after a quiet spell (default 1: evenly spaced).
    """
    wait_for_rate(_names(names), occupy, per_second, burst, timeout_seconds, strict)


async def rate_limit_async(
    names: str | Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """``rate_limit`` for ``async`` code: waits without blocking the event loop."""
    await asyncio.to_thread(
        wait_for_rate, _names(names), occupy, per_second, burst, timeout_seconds, strict
    )
