"""Taking and holding slots of the store's limits, for ``concurrency``, ``rate_limit`` and
tagged task runs.

A ``Lease`` holds the slots it took until released. While held, one daemon thread per
process (``_Renewer``) renews every lease in one update each ``lease_seconds / 3``; a
process that dies stops renewing, and its slots come back when the lease expires.

Waiting polls the store with capped exponential backoff and jitter: no connection is
held open while waiting, and a freed slot is seen within half a second.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kernel_ext._errors import ConcurrencySlotTimeout, ConfigurationError

if TYPE_CHECKING:
    from kernel_ext.store import Store

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Lease",
    "acquire_slots",
    "forget_limit_names",
    "limited_tags",
    "wait_for_rate",
]

DEFAULT_LEASE_SECONDS = 30.0
_MAX_POLL = 0.5
_NAMES_TTL = 2.0  # how stale the set of limited tags may be (a new limit applies after it)

_log = logging.getLogger("taskbook.limits")


class Lease:
    """Slots taken from one or more limits; give them back with ``release()``."""

    def __init__(self, store: Store | None, lease_ids: list[str], lease_seconds: float) -> None:
        self.store = store
        self.lease_ids = lease_ids
        self.lease_seconds = lease_seconds
        if store is not None and lease_ids:
            _renewer.add(self)

    def release(self) -> None:
        if self.store is None or not self.lease_ids:
            return
        _renewer.discard(self)
        ids, self.lease_ids = self.lease_ids, []
        self.store.release_leases(ids)


def acquire_slots(
    names: Sequence[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    strict: bool = False,
    holder: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Lease:
    """Wait until ``occupy`` slots of every limit in ``names`` are free, then take them.

    Names with no concurrency limit are skipped (with a warning, once per name), or raise
    ``ConfigurationError`` if ``strict``. ``on_wait(name)`` is called once, the first
    time a full limit makes the caller wait.
    """
    _check(occupy, lease_seconds)
    from kernel_ext.store import get_store

    store = get_store()
    label = holder or _holder()
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    attempt = 0
    while True:
        ids, missing, full = store.take_slots(names, occupy, label, lease_seconds)
        if missing:
            _missing(missing, strict, "slots")
        if full is None:
            return Lease(store, ids, lease_seconds)
        if attempt == 0 and on_wait is not None:
            on_wait(full)
        attempt += 1
        _sleep(attempt, deadline, f"no slot of limit {full!r} came free", full)


def wait_for_rate(
    names: Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """Wait until each rate limit in ``names`` allows ``occupy`` more starts, and count
    them. ``per_second`` (and ``burst``) create or change the limits' rate."""
    if occupy < 1:
        raise ConfigurationError(f"occupy must be 1 or more, got {occupy}.")
    from kernel_ext.store import get_store

    store = get_store()
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    for name in names:
        while True:
            wait = store.take_rate(name, occupy, per_second, burst)
            if wait is None:
                _missing([name], strict, "rate")
                break
            if wait == 0.0:
                break
            _sleep_for(wait, deadline, f"rate limit {name!r} did not allow a start", name)


def limited_tags(tags: Sequence[str]) -> list[str]:
    """The tags among ``tags`` that name a concurrency limit (cached for a moment)."""
    if not tags:
        return []
    names = _names_cache.get()
    return [tag for tag in tags if tag in names]


def forget_limit_names() -> None:
    """Re-read the limited tags on next use (after this process changed a limit)."""
    _names_cache.invalidate()


# --- internals ----------------------------------------------------------------------------


def _check(occupy: int, lease_seconds: float) -> None:
    if isinstance(occupy, bool) or not isinstance(occupy, int) or occupy < 1:
        raise ConfigurationError(f"occupy must be a whole number of slots ≥ 1, got {occupy!r}.")
    if not lease_seconds > 0:
        raise ConfigurationError(f"lease_seconds must be more than 0, got {lease_seconds!r}.")


def _holder() -> str:
    from kernel_ext._context import current_flow_run, task_run_context

    where = f"{socket.gethostname()}:{os.getpid()}"
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return f"{where} task run {task_ctx.task_run.name}"
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        return f"{where} flow run {flow_ctx.flow_run.name}"
    return where


def _missing(names: Sequence[str], strict: bool, kind: str) -> None:
    what = "concurrency limit" if kind == "slots" else "rate limit"
    for name in names:
        how = (
            f"`taskbook limits set {name} N`" if kind == "slots"
            else f"`taskbook limits set {name} --per-second N` or pass per_second="
        )  # fmt: skip
        message = f"There is no {what} named {name!r}; create one with {how}."
        if strict:
            raise ConfigurationError(message)
        if (kind, name) not in _warned_pairs:
            _warned_pairs.add((kind, name))
            _log.warning("%s Going on without it.", message)


_warned_pairs: set[tuple[str, str]] = set()


def _sleep(attempt: int, deadline: float | None, what: str, name: str) -> None:
    delay = min(_MAX_POLL, 0.01 * 2**attempt) * random.uniform(0.5, 1.0)
    _sleep_for(delay, deadline, what, name)


def _sleep_for(delay: float, deadline: float | None, what: str, name: str) -> None:
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConcurrencySlotTimeout(
                f"Gave up waiting: {what} within the timeout. See who holds it with "
                f"`taskbook limits show {name}`, raise it with `taskbook limits set {name} "
                "N`, or pass a longer timeout_seconds."
            )
        delay = min(delay, remaining)
    time.sleep(delay)


class _NamesCache:
    """The limit names of the current store, re-read at most every ``_NAMES_TTL`` s."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._names: frozenset[str] = frozenset()
        self._read_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> frozenset[str]:
        from kernel_ext.store import get_store

        store = get_store()
        now = time.monotonic()
        if store.url == self._url and now - self._read_at < _NAMES_TTL:
            return self._names
        with self._lock:
            if store.url != self._url or now - self._read_at >= _NAMES_TTL:
                self._names = frozenset(store.limit_names())
                self._url, self._read_at = store.url, now
        return self._names

    def invalidate(self) -> None:
        self._read_at = 0.0


_names_cache = _NamesCache()


class _Renewer:
    """Renews the leases this process holds, until they are released."""

    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._period = float("inf")

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

    def holds(self, lease: Lease) -> bool:
        return id(lease) in self._leases

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
            for lease in held:
                self._renew(lease)

    def _renew(self, lease: Lease) -> None:
        ids = list(lease.lease_ids)
        if not ids or lease.store is None:
            return
        try:
            renewed = lease.store.renew_leases(ids, lease.lease_seconds)
        except Exception:
            _log.exception("Could not renew concurrency slots; retrying")
            return
        if renewed < len(ids) and self.holds(lease):
            _log.warning(
                "%d concurrency slot(s) held here had expired or were reset; the work "
                "goes on without them.", len(ids) - renewed,
            )  # fmt: skip


_renewer = _Renewer()
