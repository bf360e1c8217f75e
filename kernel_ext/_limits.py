"""Taking and holding slots of the store's limits, for ``concurrency``, ``rate_limit`` and
tagged task runs.

A ``Lease`` holds the slots it took until released. While held, one daemon thread per
process (``_Renewer``) renews the leases every ``lease_seconds / 3``, one update per store;
a process that dies stops renewing, and its slots come back when the leases expire.

Waiting polls the store with capped exponential backoff and jitter: no connection is
held open while waiting, and a freed slot is seen within half a second. Async callers
wait in a thread (``acquire_in_thread``); if they are cancelled meanwhile, whatever the
thread still takes is given back at once.
"""

from __future__ import annotations

import asyncio
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
    "acquire_in_thread",
    "acquire_slots",
    "check_names",
    "forget_limit_names",
    "holder_label",
    "limited_tags",
    "wait_for_rate",
]

DEFAULT_LEASE_SECONDS = 30.0
_MAX_POLL = 0.5
_NAMES_TTL = 2.0  # how stale the set of limited tags may be (a new limit applies after it)

_log = logging.getLogger("taskbook.limits")


class _Stopped(Exception):
    """The waiter was cancelled (its coroutine); stop polling."""


class Lease:
    """Slots taken from one or more limits; give them back with ``release()``."""

    def __init__(self, store: Store | None, lease_ids: list[str], lease_seconds: float) -> None:
        self.store = store
        self.lease_ids = lease_ids
        self.lease_seconds = lease_seconds
        if store is not None and lease_ids:
            _renewer.add(self)

    def release(self) -> None:
        """Give the slots back. Never raises: if the store cannot be reached, the slots
        come back when their leases expire (and the error is logged)."""
        if self.store is None or not self.lease_ids:
            return
        _renewer.discard(self)
        ids, self.lease_ids = self.lease_ids, []
        try:
            self.store.release_leases(ids)
        except Exception:
            _log.exception(
                "Could not give back %d concurrency slot(s); they come back when their "
                "lease expires (within %g s).", len(ids), self.lease_seconds,
            )  # fmt: skip


def check_names(names: str | Sequence[str]) -> list[str]:
    """``names`` as a list of limit names, or a ConfigurationError saying what is wrong."""
    items = [names] if isinstance(names, str) else names
    if not isinstance(items, (list, tuple)) or not items or not all(
        isinstance(n, str) and n.strip() for n in items
    ):
        raise ConfigurationError(
            f"Limit names must be a name or a list of names, e.g. 'openai' or ['gpu', 'db'];"
            f" got {names!r}."
        )
    return list(items)


def acquire_slots(
    names: Sequence[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    strict: bool = False,
    holder: str | None = None,
    on_wait: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Lease:
    """Wait until ``occupy`` slots of every limit in ``names`` are free, then take them.

    Names with no concurrency limit are skipped (with a warning, once per name), or raise
    ``ConfigurationError`` if ``strict``. ``on_wait(name)`` is called once, the first
    time a full limit makes the caller wait. Setting ``stop`` ends the wait.
    """
    _check_occupy(occupy)
    _check_number("lease_duration", lease_seconds)
    _check_timeout(timeout_seconds)
    from kernel_ext.store import get_store

    store = get_store()
    label = holder or holder_label()
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
        delay = min(_MAX_POLL, 0.01 * 2**attempt) * random.uniform(0.5, 1.0)
        _sleep_for(delay, deadline, _slot_timeout(full), stop)


def wait_for_rate(
    names: Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Wait until each rate limit in ``names`` allows ``occupy`` more starts, and count
    them. ``per_second`` (and ``burst``) create or change the limits' rate."""
    _check_occupy(occupy)
    if per_second is not None:
        _check_number("per_second", per_second)
    _check_timeout(timeout_seconds)
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
            # Jitter, so waiters that were told the same time do not all ask at once.
            _sleep_for(wait * random.uniform(1.0, 1.2), deadline, _rate_timeout(name), stop)


async def acquire_in_thread(take: Callable[[threading.Event], Lease | None]) -> Lease | None:
    """Run ``take(stop)`` in a thread without blocking the event loop; if the awaiting
    coroutine is cancelled, stop the wait and give back what the thread still took."""
    stop = threading.Event()
    future = asyncio.ensure_future(asyncio.to_thread(take, stop))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        future.add_done_callback(_release_outcome)
        raise


def _release_outcome(future: asyncio.Future[Lease | None]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    lease = future.result()
    if lease is not None:
        threading.Thread(target=lease.release, name="taskbook-release", daemon=True).start()


def limited_tags(tags: Sequence[str]) -> list[str]:
    """The tags among ``tags`` that name a concurrency limit (cached for a moment)."""
    if not tags:
        return []
    names = _names_cache.get()
    return [tag for tag in tags if tag in names]


def forget_limit_names() -> None:
    """Re-read the limited tags on next use (after this process changed a limit)."""
    _names_cache.invalidate()


def holder_label(run_label: str | None = None) -> str:
    """Who holds a slot, as ``taskbook limits show`` lists it: host, pid and run."""
    where = f"{socket.gethostname()}:{os.getpid()}"
    if run_label is not None:
        return f"{where} {run_label}"
    from kernel_ext._context import current_flow_run, task_run_context

    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return f"{where} task run {task_ctx.task_run.name}"
    flow_ctx = current_flow_run()
    if flow_ctx is not None:
        return f"{where} flow run {flow_ctx.flow_run.name}"
    return where


# --- internals ----------------------------------------------------------------------------


def _check_occupy(occupy: int) -> None:
    if isinstance(occupy, bool) or not isinstance(occupy, int) or occupy < 1:
        raise ConfigurationError(f"occupy must be a whole number of slots ≥ 1, got {occupy!r}.")


def _check_number(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}.")


def _check_timeout(value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
    ):
        raise ConfigurationError(f"timeout_seconds must be a number ≥ 0, got {value!r}.")


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
        if (kind, name) not in _warned:
            _warned.add((kind, name))
            _log.warning("%s Going on without it.", message)


_warned: set[tuple[str, str]] = set()


def _slot_timeout(name: str) -> str:
    return (
        f"No slot of concurrency limit {name!r} came free in time. See who holds it with "
        f"`taskbook limits show {name}`, raise it with `taskbook limits set {name} N`, or "
        "pass a longer timeout_seconds."
    )


def _rate_timeout(name: str) -> str:
    return (
        f"Rate limit {name!r} did not allow a start in time. Pass a longer timeout_seconds, "
        f"or raise the rate with `taskbook limits set {name} --per-second N`."
    )


def _sleep_for(
    delay: float, deadline: float | None, message: str, stop: threading.Event | None
) -> None:
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or delay > remaining + _MAX_POLL:
            raise ConcurrencySlotTimeout(message)  # waiting cannot help any more
        delay = min(delay, remaining)
    if stop is None:
        time.sleep(delay)
    elif stop.wait(delay):
        raise _Stopped


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
                "on without them.", lost,
            )  # fmt: skip
        self._lost[key] = lost  # warn when more are lost, not at every renewal


_renewer = _Renewer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renewer.reset_after_fork)
