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
a process that dies gives its slots back within ``lease_duration`` (30 s by default).

A name with no limit in the store lets the caller through, with a warning once per name
(``strict=True`` raises instead), so a notebook runs before anyone has set its limits.
Both work in ``async`` code too (``async with concurrency(...)``,
``await rate_limit_async(...)``); waiting then happens off the event loop, and a
cancelled wait takes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from kernel_ext._leases import DEFAULT_LEASE_SECONDS, Lease, release_async
from kernel_ext._slots import (
    acquire_slots,
    acquire_slots_async,
    check_names,
    wait_for_rate,
    wait_for_rate_async,
)

__all__ = ["Concurrency", "concurrency", "rate_limit", "rate_limit_async"]


class Concurrency:
    """A block holding ``occupy`` slots of each named limit while it runs.

    Safe to enter again, nested or from several threads: each entry takes its own slots
    and each exit gives back one entry's worth.
    """

    def __init__(
        self,
        names: list[str],
        occupy: int,
        timeout_seconds: float | None,
        lease_duration: float,
        strict: bool,
    ) -> None:
        self.names = names
        self.occupy = occupy
        self.timeout_seconds = timeout_seconds
        self.lease_duration = lease_duration
        self.strict = strict
        self._held: list[Lease] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"concurrency({self.names!r}, occupy={self.occupy})"

    def _options(self) -> tuple[list[str], int, float | None, float, bool]:
        return self.names, self.occupy, self.timeout_seconds, self.lease_duration, self.strict

    def _hold(self, lease: Lease | None) -> None:
        if lease is not None:
            with self._lock:
                self._held.append(lease)

    def _release(self) -> None:
        with self._lock:
            lease = self._held.pop() if self._held else None
        if lease is not None:
            lease.release()

    def __enter__(self) -> Concurrency:
        self._hold(acquire_slots(*self._options()))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    async def __aenter__(self) -> Concurrency:
        self._hold(await acquire_slots_async(*self._options()))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            lease = self._held.pop() if self._held else None
        if lease is not None:
            await release_async(lease)


def concurrency(
    names: str | Sequence[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    lease_duration: float = DEFAULT_LEASE_SECONDS,
    strict: bool = False,
) -> Concurrency:
    """Hold ``occupy`` slots of each limit in ``names`` for the duration of the block
    (``with`` or ``async with``).

    Waits for free slots (up to ``timeout_seconds``, then ``ConcurrencySlotTimeout``);
    all limits are taken at once or not at all, so two blocks taking the same limits in
    another order cannot deadlock. ``lease_duration``: how soon the slots come back if
    this process dies while holding them.
    """
    return Concurrency(check_names(names), occupy, timeout_seconds, lease_duration, strict)


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
    wait_for_rate(check_names(names), occupy, per_second, burst, timeout_seconds, strict)


async def rate_limit_async(
    names: str | Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """``rate_limit`` for ``async`` code: waits without blocking the event loop."""
    await wait_for_rate_async(
        check_names(names), occupy, per_second, burst, timeout_seconds, strict
    )
