"""Locks on transaction keys, as Prefect 3's ``prefect.locking``.

A ``SERIALIZABLE`` transaction holds the lock on its key from ``begin()`` until it
commits or rolls back, so a second transaction with the same key waits and then sees
the first one's record. Two managers ship: ``MemoryLockManager`` serialises the threads
of one process; ``FileSystemLockManager`` serialises the processes of one machine (the
kernels and workers sharing a results folder) with one lock file per key.

A lock file is created with ``O_CREAT | O_EXCL`` (only one creator wins) and holds its
holder, expiry, process id and host as JSON. A lock whose expiry has passed, or whose
process on this host has died (a kernel restarted in the middle of a task), is stale and
taken over, so a crash never leaves a key locked for good.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, TypedDict, runtime_checkable

__all__ = ["FileSystemLockManager", "LockManager", "MemoryLockManager", "lock_manager_for"]

_POLL = 0.05
# A lock file is written right after it is created; one still empty after this long
# belongs to a process that died in between.
_UNWRITTEN_GRACE = 5.0
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@runtime_checkable
class LockManager(Protocol):
    """Grants one holder at a time the lock on a key (Prefect's ``LockManager``)."""

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """Take the lock, waiting up to ``acquire_timeout`` seconds (None: forever, 0:
        not at all); it lapses after ``hold_timeout`` seconds (None: never). True if
        taken (also when ``holder`` has it already)."""
        ...

    def release_lock(self, key: str, holder: str) -> None:
        """Give the lock back; ValueError if ``holder`` does not hold it."""
        ...

    def is_locked(self, key: str) -> bool: ...

    def is_lock_holder(self, key: str, holder: str) -> bool: ...

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """Wait until nobody holds the lock; False if ``timeout`` passed first."""
        ...


def _deadline(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def _not_held(key: str, holder: str) -> ValueError:
    return ValueError(f"No lock held by {holder} for transaction with key {key}")


@dataclass(slots=True)
class _Held:
    holder: str
    expires: float | None  # time.monotonic()


class MemoryLockManager:
    """Locks for the threads of this process.

    Every instance shares one table, as Prefect's singleton does: two tasks configured
    with ``MemoryLockManager()`` each still lock against each other."""

    _cond: ClassVar[threading.Condition] = threading.Condition()
    _held: ClassVar[dict[str, _Held]] = {}

    def __repr__(self) -> str:
        return "MemoryLockManager()"

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        deadline = _deadline(acquire_timeout)
        with self._cond:
            while (held := self._live(key)) is not None and held.holder != holder:
                if not self._wait(held, deadline):
                    return False
            if held is None:
                self._held[key] = _Held(holder, _deadline(hold_timeout))
            return True

    def release_lock(self, key: str, holder: str) -> None:
        with self._cond:
            held = self._live(key)
            if held is None or held.holder != holder:
                raise _not_held(key, holder)
            del self._held[key]
            self._cond.notify_all()

    def is_locked(self, key: str) -> bool:
        with self._cond:
            return self._live(key) is not None

    def is_lock_holder(self, key: str, holder: str) -> bool:
        with self._cond:
            held = self._live(key)
            return held is not None and held.holder == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        deadline = _deadline(timeout)
        with self._cond:
            while (held := self._live(key)) is not None:
                if not self._wait(held, deadline):
                    return False
            return True

    def _live(self, key: str) -> _Held | None:
        """The unexpired lock on ``key``; an expired one is dropped here, lazily, so no
        timer thread is needed."""
        held = self._held.get(key)
        if held is not None and held.expires is not None and held.expires <= time.monotonic():
            del self._held[key]
            return None
        return held

    def _wait(self, held: _Held, deadline: float | None) -> bool:
        """Sleep until a release, the lock's expiry or the deadline; False at the deadline."""
        wake = [t for t in (deadline, held.expires) if t is not None]
        if deadline is not None and deadline <= time.monotonic():
            return False
        self._cond.wait(min(wake) - time.monotonic() if wake else None)
        return True


class _LockRecord(TypedDict, total=False):
    holder: str
    expiration: float | None  # epoch seconds: other processes share the wall clock only
    pid: int
    host: str


class FileSystemLockManager:
    """Locks for the processes of one machine, as files in ``lock_files_directory``."""

    def __init__(self, lock_files_directory: str | os.PathLike[str]) -> None:
        self.lock_files_directory = Path(lock_files_directory).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FileSystemLockManager({str(self.lock_files_directory)!r})"

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        deadline, path = _deadline(acquire_timeout), self._path(key)
        while not self._create(path, holder, hold_timeout):
            record = _read(path)
            if record is not None and record.get("holder") == holder and not _stale(record, path):
                return True
            if record is not None and _stale(record, path):
                self._remove_if_stale(path)
                continue
            if deadline is not None and deadline <= time.monotonic():
                return False
            time.sleep(_POLL)
        return True

    def release_lock(self, key: str, holder: str) -> None:
        path = self._path(key)
        with self._guard():
            record = _read(path)
            if record is None or record.get("holder") != holder:
                raise _not_held(key, holder)
            path.unlink(missing_ok=True)

    def is_locked(self, key: str) -> bool:
        path = self._path(key)
        record = _read(path)
        return record is not None and not _stale(record, path)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        path = self._path(key)
        record = _read(path)
        return record is not None and record.get("holder") == holder and not _stale(record, path)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        deadline = _deadline(timeout)
        while self.is_locked(key):
            if deadline is not None and deadline <= time.monotonic():
                return False
            time.sleep(_POLL)
        return True

    def _path(self, key: str) -> Path:
        # Cache keys may come from a user's cache_key_fn: anything unsafe as a file
        # name is hashed.
        name = key if _SAFE_KEY.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()
        return self.lock_files_directory / f"{name}.lock"

    def _create(self, path: Path, holder: str, hold_timeout: float | None) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        expiration = None if hold_timeout is None else time.time() + hold_timeout
        record: _LockRecord = {
            "holder": holder,
            "expiration": expiration,
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(record))
        return True

    def _remove_if_stale(self, path: Path) -> None:
        """Delete a stale lock file, checked again under the guard: without it, two
        takers could both judge the old file stale and the slower one would delete the
        faster one's fresh lock."""
        with self._guard():
            record = _read(path)
            if record is not None and _stale(record, path):
                path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise the deletions of lock files (creations need no guard: O_EXCL)."""
        try:
            import fcntl
        except ImportError:  # Windows: best effort, without the guard
            yield
            return
        self.lock_files_directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_files_directory / ".guard", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _read(path: Path) -> _LockRecord | None:
    """The lock file's record; ``{}`` while its creator has not written it yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        record: _LockRecord = json.loads(text)
    except ValueError:
        return {}
    return record


def _stale(record: _LockRecord, path: Path) -> bool:
    if not record:
        try:
            return time.time() - path.stat().st_mtime > _UNWRITTEN_GRACE
        except FileNotFoundError:
            return False
    expiration = record.get("expiration")
    if expiration is not None and expiration <= time.time():
        return True
    pid, host = record.get("pid"), record.get("host")
    return pid is not None and host == socket.gethostname() and not _alive(pid)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


@functools.lru_cache(maxsize=64)
def lock_manager_for(base: str) -> LockManager | None:
    """The default lock manager for results under ``base``: file locks in
    ``<base>/.locks`` for a local folder, None for a remote URL (whose processes may be
    on other machines, which file locks cannot serialise)."""
    if base.startswith("file://"):
        base = base[len("file://") :]
    elif "://" in base:
        return None
    return FileSystemLockManager(Path(base) / ".locks")
