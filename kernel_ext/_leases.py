"""Leases: slots taken from the store's limits, held until released or expired.

A ``Lease`` holds the slots it took until released. While held, one daemon thread per
process (``_Renewer``) renews the leases every ``lease_seconds / 3``, one update per store;
a process that dies stops renewing, and its slots come back when the leases expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel_ext.store import Store

__all__ = ["DEFAULT_LEASE_SECONDS", "Lease", "release_async"]

DEFAULT_LEASE_SECONDS = 30.0

_log = logging.getLogger("taskbook.limits")


class Lease:
    """Slots taken from one or more limits; give them back with ``release()``."""

    def __init__(self, store: Store | None, lease_ids: list[str], lease_seconds: float) -> None:
        self.store = store
        self.lease_ids = lease_ids
        self.lease_seconds = lease_seconds
        self.pid = os.getpid()  # a forked child must not give back its parent's slots
        if store is not None and lease_ids:
            _renewer.add(self)

    def release(self) -> None:
        """Give the slots back. Never raises: if the store cannot be reached, the slots
        come back when their leases expire (and the error is logged)."""
        if self.store is None or not self.lease_ids or os.getpid() != self.pid:
            return
        _renewer.discard(self)
        ids, self.lease_ids = self.lease_ids, []
        try:
            self.store.release_leases(ids)
        except Exception:
            _log.exception(
                "Could not give back %d concurrency slot(s); they come back when their "
                "lease expires (within %g s).",
                len(ids),
                self.lease_seconds,
            )


async def release_async(lease: Lease) -> None:
    """Give ``lease`` back from a coroutine, in a thread of its own: the default executor's
    threads may all be busy, and a busy database must not stall the event loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def release() -> None:
        try:
            lease.release()
        finally:
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=release, name="taskbook-release", daemon=True).start()
    await done


class _Renewer:
    """Renews the leases this process holds, until they are released."""

    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._period = float("inf")
        self._lost: dict[tuple[int, float], int] = {}

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases[id(lease)] = lease
            shorter = lease.lease_seconds / 3 < self._period
            if self._thread is None or not self._thread.is_alive():
                self._period = lease.lease_seconds / 3
                self._thread = threading.Thread(
                    target=self._loop, name="taskbook-lease-renewer", daemon=True
                )
                self._thread.start()
            elif shorter:
                self._wake.set()  # re-plan: this lease needs renewing sooner

    def discard(self, lease: Lease) -> None:
        with self._lock:
            self._leases.pop(id(lease), None)

    def reset_after_fork(self) -> None:
        # A forked child holds none of its parent's slots and has no renewer thread.
        self.__init__()  # type: ignore[misc]

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._leases:
                    self._thread, self._period = None, float("inf")
                    return
                self._period = min(lease.lease_seconds for lease in self._leases.values()) / 3
            if self._wake.wait(self._period):
                self._wake.clear()
                continue
            with self._lock:
                held = list(self._leases.values())
            self._renew(held)

    def _renew(self, held: list[Lease]) -> None:
        """One update per store and lease length, for every lease held."""
        groups: dict[tuple[int, float], list[Lease]] = {}
        for lease in held:
            if lease.store is not None and lease.lease_ids:
                groups.setdefault((id(lease.store), lease.lease_seconds), []).append(lease)
        for (_, seconds), group in groups.items():
            self._renew_group(group, seconds)

    def _renew_group(self, group: list[Lease], seconds: float) -> None:
        ids = [i for lease in group for i in lease.lease_ids]
        store = group[0].store
        assert store is not None
        try:
            renewed = store.renew_leases(ids, seconds)
        except Exception:
            _log.exception("Could not renew concurrency slots; retrying")
            return
        lost = len(ids) - renewed
        key = (id(store), seconds)
        if lost > self._lost.get(key, 0) and any(id(lease) in self._leases for lease in group):
            _log.warning(
                "%d concurrency slot(s) held here had expired or were reset; the work goes "
                "on without them.",
                lost,
            )
        self._lost[key] = lost  # warn when more are lost, not at every renewal


_renewer = _Renewer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renewer.reset_after_fork)
