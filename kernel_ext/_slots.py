"""Taking and holding slots of the store's limits, for ``concurrency``, ``rate_limit`` and
tagged task runs.

The slots are held as leases (``_leases``), renewed while their holder lives.

Waiting polls the store with capped exponential backoff and jitter: no connection is
held open while waiting, and a freed slot is seen within half a second. Coroutines try
in a thread and wait on the event loop (``acquire_slots_async``), so waiters hold no
thread; a slot taken by a try whose coroutine was cancelled is given back at once.
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
from functools import partial
from typing import TYPE_CHECKING, Any

from kernel_ext._errors import ConcurrencySlotTimeout, ConfigurationError
from kernel_ext._leases import DEFAULT_LEASE_SECONDS, Lease

if TYPE_CHECKING:
    from kernel_ext.store import Store

__all__ = [
    "acquire_slots",
    "acquire_slots_async",
    "check_names",
    "forget_limit_names",
    "holder_label",
    "limited_tags",
    "wait_for_rate",
    "wait_for_rate_async",
]

_MAX_POLL = 0.5
_NAMES_TTL = 2.0  # how stale the set of limited tags may be (a new limit applies after it)

_log = logging.getLogger("taskbook.limits")


def check_names(names: str | Sequence[str]) -> list[str]:
    """``names`` as a list of limit names, or a ConfigurationError saying what is wrong."""
    items = [names] if isinstance(names, str) else names
    if (
        not isinstance(items, (list, tuple))
        or not items
        or not all(isinstance(n, str) and n.strip() for n in items)
    ):
        raise ConfigurationError(
            f"Limit names must be a name or a list of names, e.g. 'openai' or ['gpu', 'db'];"
            f" got {names!r}."
        )
    return list(items)


# --- slots --------------------------------------------------------------------------------


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
    store, label, deadline = _slots_setup(occupy, lease_seconds, timeout_seconds, holder)
    attempt = 0
    while True:
        taken = _try_slots(store, names, occupy, label, lease_seconds, strict)
        if isinstance(taken, Lease):
            return taken
        if attempt == 0 and on_wait is not None:
            on_wait(taken)
        attempt += 1
        time.sleep(_bounded(_poll_delay(attempt), deadline, partial(_slot_timeout, taken)))


async def acquire_slots_async(
    names: Sequence[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    strict: bool = False,
    holder: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Lease:
    """``acquire_slots`` for a coroutine: each try is a short transaction in a thread,
    each wait an ``asyncio.sleep``, so no thread is held while waiting. A slot that a try
    takes after the coroutine was cancelled is given back at once."""
    store, label, deadline = _slots_setup(occupy, lease_seconds, timeout_seconds, holder)
    attempt = 0
    while True:
        taken = await _owned_in_thread(
            lambda: _try_slots(store, names, occupy, label, lease_seconds, strict)
        )
        if isinstance(taken, Lease):
            return taken
        if attempt == 0 and on_wait is not None:
            on_wait(taken)
        attempt += 1
        await asyncio.sleep(_bounded(_poll_delay(attempt), deadline, partial(_slot_timeout, taken)))


def _slots_setup(
    occupy: int, lease_seconds: float, timeout_seconds: float | None, holder: str | None
) -> tuple[Store, str, float | None]:
    _check_occupy(occupy)
    _check_number("lease_duration", lease_seconds)
    _check_timeout(timeout_seconds)
    from kernel_ext.store import get_store

    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    return get_store(), holder or holder_label(), deadline


def _try_slots(
    store: Store,
    names: Sequence[str],
    occupy: int,
    label: str,
    lease_seconds: float,
    strict: bool,
) -> Lease | str:
    """One try: the Lease, or the name of a full limit."""
    ids, missing, full = store.take_slots(names, occupy, label, lease_seconds)
    if missing:
        _missing(missing, strict, "slots")
    return Lease(store, ids, lease_seconds) if full is None else full


def _poll_delay(attempt: int) -> float:
    return float(min(_MAX_POLL, 0.01 * 2**attempt)) * random.uniform(0.5, 1.0)


async def _owned_in_thread(take: Callable[[], Lease | str]) -> Lease | str:
    """``take()`` in a thread; if the awaiting coroutine is cancelled meanwhile, the
    thread gives back the lease it took itself (the event loop may be gone by then)."""
    lock = threading.Lock()
    state: dict[str, Any] = {"abandoned": False, "lease": None}

    def run() -> Lease | str:
        taken = take()
        with lock:
            keep = not state["abandoned"]
            if keep and isinstance(taken, Lease):
                state["lease"] = taken
        if not keep and isinstance(taken, Lease):
            taken.release()
        return taken

    try:
        return await asyncio.to_thread(run)
    except asyncio.CancelledError:
        with lock:
            state["abandoned"] = True
            lease = state["lease"]
        if lease is not None:  # taken just before the cancel landed
            threading.Thread(target=lease.release, name="taskbook-release", daemon=True).start()
        raise


# --- rates --------------------------------------------------------------------------------


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
    store, deadline = _rate_setup(occupy, per_second, timeout_seconds)
    for name in names:
        while (wait := _try_rate(store, name, occupy, per_second, burst, strict)) > 0:
            time.sleep(_bounded(wait, deadline, partial(_rate_timeout, name), jitter=True))


async def wait_for_rate_async(
    names: Sequence[str],
    occupy: int = 1,
    per_second: float | None = None,
    burst: int | None = None,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """``wait_for_rate`` for a coroutine: tries in a thread, waits on the event loop."""
    store, deadline = _rate_setup(occupy, per_second, timeout_seconds)
    for name in names:
        while (
            wait := await asyncio.to_thread(
                _try_rate, store, name, occupy, per_second, burst, strict
            )
        ) > 0:
            await asyncio.sleep(_bounded(wait, deadline, partial(_rate_timeout, name), jitter=True))


def _rate_setup(
    occupy: int, per_second: float | None, timeout_seconds: float | None
) -> tuple[Store, float | None]:
    _check_occupy(occupy)
    if per_second is not None:
        _check_number("per_second", per_second)
    _check_timeout(timeout_seconds)
    from kernel_ext.store import get_store

    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    return get_store(), deadline


def _try_rate(
    store: Store,
    name: str,
    occupy: int,
    per_second: float | None,
    burst: int | None,
    strict: bool,
) -> float:
    """One try: 0 if the start was counted (or ``name`` has no rate), else the wait."""
    wait = store.take_rate(name, occupy, per_second, burst)
    if wait is None:
        _missing([name], strict, "rate")
        return 0.0
    return wait


# --- tags and holders ---------------------------------------------------------------------


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
        raise ConfigurationError(f"{name} must be a number > 0, got {value!r}.")


def _check_timeout(value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
    ):
        raise ConfigurationError(f"timeout_seconds must be a number ≥ 0, got {value!r}.")


def _missing(names: Sequence[str], strict: bool, kind: str) -> None:
    what = "concurrency limit" if kind == "slots" else "rate limit"
    for name in names:
        how = (
            f"`taskbook limits set {name} N`"
            if kind == "slots"
            else f"`taskbook limits set {name} --per-second N` or pass per_second="
        )
        message = f"There is no {what} named {name!r}; create one with {how}."
        if strict:
            raise ConfigurationError(message)
        if (kind, name) not in _warned:
            _warned.add((kind, name))
            _log.warning("%s Going on without it.", message)


_warned: set[tuple[str, str]] = set()


def _slot_timeout(name: str) -> ConcurrencySlotTimeout:
    return ConcurrencySlotTimeout(
        f"No slot of concurrency limit {name!r} came free in time. See who holds it with "
        f"`taskbook limits show {name}`, raise it with `taskbook limits set {name} N`, or "
        "pass a longer timeout_seconds.",
        limit=name,
    )


def _rate_timeout(name: str) -> ConcurrencySlotTimeout:
    return ConcurrencySlotTimeout(
        f"Rate limit {name!r} did not allow a start in time. Pass a longer timeout_seconds, "
        f"or raise the rate with `taskbook limits set {name} --per-second N`.",
        limit=name,
    )


def _bounded(
    wait: float,
    deadline: float | None,
    timeout: Callable[[], ConcurrencySlotTimeout],
    jitter: bool = False,
) -> float:
    """How long to sleep before the next try; raises ConcurrencySlotTimeout when the
    deadline has passed or comes before ``wait`` is over. ``jitter`` spreads waiters
    that were given the same wait, never past the deadline."""
    delay = wait * random.uniform(1.0, 1.2) if jitter else wait
    if deadline is None:
        return delay
    remaining = deadline - time.monotonic()
    if remaining <= 0 or (jitter and wait > remaining):
        raise timeout()  # waiting cannot help any more
    return min(delay, remaining)


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

    def invalidate_after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._read_at = 0.0


_names_cache = _NamesCache()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_names_cache.invalidate_after_fork)
