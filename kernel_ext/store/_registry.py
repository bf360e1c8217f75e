"""One store per process, for the URL the settings name at the time of the call.

``get_store`` is the one accessor of the current store. It is on the engine's path to
every run, so its fast path is an attribute read and a string compare; opening,
switching and closing take a lock. This module is light: SQLAlchemy and the store's
modules load when the first store opens, so any module may import ``get_store`` at its
top.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import TYPE_CHECKING

from kernel_ext import _settings, tracing
from kernel_ext._errors import StoreError
from kernel_ext._events import bus

if TYPE_CHECKING:
    from kernel_ext.store._store import Store

__all__ = ["current_store", "get_store", "reset_store"]

_EXIT_TIMEOUT = 30.0

_lock = threading.Lock()
_current: Store | None = None
_hooks_installed = False


def get_store() -> Store:
    """The store for the current ``TASKBOOK_STORE_URL``, opened on first use.

    When the URL changes (another data directory, a test harness), the previous store
    is flushed and closed before the new one opens.
    """
    url = _settings.store_url()
    store = _current
    if store is not None and store.url == url and not store.closed:
        return store
    return _open(url)


def current_store() -> Store | None:
    """The store this process has open, if any (without opening one)."""
    store = _current
    return store if store is not None and not store.closed else None


def reset_store() -> None:
    """Flush and close the current store; the next ``get_store`` opens a fresh one."""
    global _current
    with _lock:
        store, _current = _current, None
        if store is not None:
            store.close()


def _open(url: str) -> Store:
    from kernel_ext.store._store import Store

    global _current
    with _lock:
        store = _current
        if store is not None and store.url == url and not store.closed:
            return store  # another thread opened it while we waited
        _current = None
        if store is not None:
            store.close()
        store = Store(url)
        store.on_close(bus.subscribe(store.submit))
        # Every process that records runs opens a store first: the one place to look
        # (once) whether OpenTelemetry tracing is asked for (see ``kernel_ext.tracing``).
        tracing.enable_from_environment()
        _install_hooks()
        _current = store
        return store


def _install_hooks() -> None:
    global _hooks_installed
    if not _hooks_installed:
        atexit.register(_flush_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_in_child)
        _hooks_installed = True


def _flush_at_exit() -> None:
    # So a script that ends right after its flow returns keeps every run it made. The
    # store stays open: exit hooks that run after this one may still emit and flush.
    store = _current
    if store is None or store.closed:
        return
    try:
        store.flush(timeout=_EXIT_TIMEOUT)
    except StoreError as error:
        print(f"taskbook: some runs were not saved: {error}", file=sys.stderr)


def _forget_in_child() -> None:
    # A forked child has no writer thread and must not reuse the parent's connections;
    # the parent writes the events it had queued. The child opens its own store.
    global _current, _lock
    _lock = threading.Lock()
    store, _current = _current, None
    if store is not None:
        store.detach_after_fork()
