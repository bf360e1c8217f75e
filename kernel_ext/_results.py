"""Persisted results: one file per result, in a local folder or at an fsspec URL.

A result file is a one-line JSON header (created, expiration, serializer) followed by
the pickled value. The header lets a cache lookup check expiry by reading a few bytes,
and keeps the lookup free of database round trips. Local writes are atomic (write to a
temporary name, then rename), so a reader in another process never sees half a file.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kernel_ext import _settings
from kernel_ext._errors import ResultError

__all__ = ["Hit", "ResultStorage", "default_storage"]

_MAGIC = b"TBR1"


@dataclass(slots=True)
class Hit:
    """A result read back from storage."""

    value: Any
    location: str
    created: float


class ResultStorage:
    """Reads and writes result files under ``base`` (a folder or an fsspec URL)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._remote = "://" in base and not base.startswith("file://")

    def __repr__(self) -> str:
        return f"ResultStorage({self.base!r})"

    def location(self, key: str) -> str:
        return f"{self.base}/{key}"

    def write(self, key: str, value: Any, expiration: float | None, label: str) -> str:
        payload = _serialise(value, label)
        header = json.dumps({"created": time.time(), "expiration": expiration}).encode()
        data = b"".join((_MAGIC, header, b"\n", payload))
        location = self.location(key)
        if self._remote:
            with _open_remote(location, "wb") as handle:
                handle.write(data)
        else:
            _write_atomic(Path(location), data)
        return location

    def read(self, key: str, now: float | None = None) -> Hit | None:
        """The stored, unexpired result for ``key``, or None."""
        location = self.location(key)
        try:
            handle: IO[bytes] = (
                _open_remote(location, "rb") if self._remote else open(location, "rb")
            )
        except FileNotFoundError:
            return None
        with handle:
            header = _read_header(handle, location)
            expiration = header.get("expiration")
            if expiration is not None and expiration <= (now or time.time()):
                return None
            return Hit(_deserialise(handle.read(), location), location, header["created"])


def _serialise(value: Any, label: str) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception as first:
        try:
            import cloudpickle

            return bytes(cloudpickle.dumps(value, protocol=5))
        except Exception:
            raise ResultError(
                f"The result of {label} ({type(value).__name__}) cannot be pickled, so it "
                f"cannot be persisted: {type(first).__name__}: {first}. Return a picklable "
                "value, or set persist_result=False (this also turns caching off)."
            ) from first


def _deserialise(payload: bytes, location: str) -> Any:
    try:
        return pickle.loads(payload)
    except Exception as error:
        raise ResultError(
            f"The persisted result at {location} cannot be read back ({error}). "
            "Delete the file or run with refresh_cache=True to compute it again."
        ) from error


def _read_header(handle: IO[bytes], location: str) -> dict[str, Any]:
    line = handle.readline()
    if not line.startswith(_MAGIC):
        raise ResultError(f"{location} is not a Taskbook result file; delete it to recompute.")
    return json.loads(line[len(_MAGIC):])  # type: ignore[no-any-return]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open_remote(location: str, mode: str) -> IO[bytes]:
    try:
        import fsspec
    except ImportError as error:
        raise ResultError(
            f"Results at {location} need fsspec: install with `pip install taskbook[remote]`."
        ) from error
    return fsspec.open(location, mode).open()  # type: ignore[no-any-return]


_storages: dict[str, ResultStorage] = {}


def default_storage() -> ResultStorage:
    """The storage at ``TASKBOOK_RESULTS_URL`` (default: the data directory's results/)."""
    url = _settings.results_url()
    storage = _storages.get(url)
    if storage is None:
        storage = _storages.setdefault(url, ResultStorage(url))
    return storage
