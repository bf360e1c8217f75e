"""Persisted results: one file per result, in a local folder or at an fsspec URL.

A result file is a one-line JSON header (created, expiration, sizes) followed by the
pickled value and then its large buffers, raw. The header lets a cache lookup check
expiry by reading a few bytes, and keeps the lookup free of database round trips.
Buffers (NumPy arrays, pandas columns) travel out of band (pickle protocol 5): they are
written as they are and read straight into one block of memory that the restored arrays
use, so restoring a large array costs about one disk read, not a read plus copies.
Local writes are atomic (write to a temporary name, then rename), so a reader in another
process never sees half a file.
"""

from __future__ import annotations

import copy
import io
import json
import mmap
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, cast

from kernel_ext import _settings
from kernel_ext._errors import ResultError

__all__ = [
    "Hit",
    "ResultStorage",
    "StoredResult",
    "check_serializer",
    "default_storage",
    "storage_from",
]

_MAGIC = b"TBR1"
_MAP_AT = 1 << 20
# A result file is read in pieces of this size: most are smaller, and read in one.
_READ_SIZE = 1 << 16
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # (no newline translation on Windows)


@dataclass(slots=True)
class Hit:
    """A result read back from storage."""

    value: Any
    location: str
    created: float


class StoredResult:
    """A result kept on disk only (``cache_result_in_memory=False``): read when asked."""

    __slots__ = ("location", "storage")

    def __init__(self, storage: ResultStorage, location: str) -> None:
        self.storage, self.location = storage, location

    def __repr__(self) -> str:
        return f"StoredResult({self.location!r})"

    def load(self) -> Any:
        key = self.location[len(self.storage.base) + 1 :]
        hit = self.storage.read(key, now=0.0)
        if hit is None:
            raise ResultError(
                f"The result at {self.location} is gone; run the task again to recompute it."
            )
        return hit.value


class ResultStorage:
    """Reads and writes result files under ``base`` (a folder or an fsspec URL)."""

    def __init__(self, base: str, serializer: Any = None) -> None:
        self.base = base.rstrip("/")
        self._remote = "://" in base and not base.startswith("file://")
        self.serializer = serializer  # the default of read() and write()

    def with_serializer(self, serializer: Any) -> ResultStorage:
        """This storage, reading and writing with ``serializer`` unless told otherwise."""
        if serializer is self.serializer:
            return self
        bound = copy.copy(self)  # a subclass of the user's own stays itself
        bound.serializer = serializer
        return bound

    def __repr__(self) -> str:
        return f"ResultStorage({self.base!r})"

    def location(self, key: str) -> str:
        return f"{self.base}/{key}"

    def write(
        self, key: str, value: Any, expiration: float | None, label: str, serializer: Any = None
    ) -> str:
        serializer = serializer or self.serializer
        if serializer is None or serializer == "pickle":
            payload, buffers = _serialise(value, label)
            kind = None
        else:
            payload, buffers, kind = _serialise_with(serializer, value, label), [], "other"
            if serializer == "json":
                kind = "json"
        header = json.dumps(
            {
                "created": time.time(),
                "expiration": expiration,
                "payload": len(payload),
                "buffers": [b.nbytes for b in buffers],
                **({"serializer": kind} if kind else {}),
            }
        ).encode()
        pieces: list[bytes | memoryview] = [_MAGIC + header + b"\n", payload, *buffers]
        location = self.location(key)
        if self._remote:
            with _open_remote(location, "wb") as handle:
                for piece in pieces:
                    handle.write(piece)
        else:
            _write_atomic(Path(location), pieces)
        return location

    def read(self, key: str, now: float | None = None, serializer: Any = None) -> Hit | None:
        """The stored, unexpired result for ``key``, or None."""
        location = self.location(key)
        try:
            handle = self._open_to_read(location)
        except FileNotFoundError:
            return None
        try:
            header, after = _read_header(handle, location)
            expiration = header.get("expiration")
            if expiration is not None and expiration <= (time.time() if now is None else now):
                return None
            kind = header.get("serializer")
            if kind is None:
                value = _deserialise(handle, header, after, location)
            else:
                chosen = serializer or self.serializer or kind
                value = _deserialise_with(chosen, after.data + handle.read(), location)
            return Hit(value, location, header["created"])
        finally:
            handle.close()

    def _open_to_read(self, location: str) -> _Readable:
        if self._remote:
            return cast(_Readable, _open_remote(location, "rb"))
        return _LocalFile(location)


def _serialise(value: Any, label: str) -> tuple[bytes, list[memoryview]]:
    buffers: list[pickle.PickleBuffer] = []
    try:
        payload = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception as first:
        buffers.clear()
        try:
            import cloudpickle

            payload = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception:
            raise ResultError(
                f"The result of {label} ({type(value).__name__}) cannot be pickled, so it "
                f"cannot be persisted: {type(first).__name__}: {first}. Return a picklable "
                "value, or set persist_result=False (this also turns caching off)."
            ) from first
    return payload, [b.raw() for b in buffers]


def check_serializer(owner: str, serializer: Any) -> Any:
    """A ``result_serializer``: "pickle", "json", or an object with ``dumps``/``loads``."""
    from kernel_ext._errors import ConfigurationError

    if serializer is None or serializer in ("pickle", "json"):
        return serializer
    dumps, loads = getattr(serializer, "dumps", None), getattr(serializer, "loads", None)
    if callable(dumps) and callable(loads):
        return serializer
    raise ConfigurationError(
        f"{owner}: result_serializer must be 'pickle', 'json' or an object with dumps() and "
        f"loads(), got {serializer!r}."
    )


def _serialise_with(serializer: Any, value: Any, label: str) -> bytes:
    try:
        if serializer == "json":
            return json.dumps(value).encode()
        data = serializer.dumps(value)
        return data.encode() if isinstance(data, str) else bytes(data)
    except Exception as error:
        raise ResultError(
            f"The result of {label} ({type(value).__name__}) cannot be serialised with "
            f"{serializer!r}: {type(error).__name__}: {error}. Use result_serializer='pickle'."
        ) from error


def _deserialise_with(serializer: Any, payload: bytes, location: str) -> Any:
    try:
        if serializer == "json":
            return json.loads(payload)
        return serializer.loads(payload)
    except Exception as error:
        raise ResultError(
            f"The result at {location} cannot be read back with {serializer!r} ({error}); "
            "give the task the serializer that wrote it, or delete the file."
        ) from error


def storage_from(spec: Any) -> ResultStorage | None:
    """A ``result_storage`` option as storage: a folder (str or ``Path``), an fsspec URL,
    a ``ResultStorage``, or an object with a ``basepath`` (a file-system block)."""
    if spec is None or isinstance(spec, ResultStorage):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return ResultStorage(os.fspath(spec))
    basepath = getattr(spec, "basepath", None)
    if basepath:
        return ResultStorage(str(basepath))
    from kernel_ext._errors import ConfigurationError

    raise ConfigurationError(
        f"result_storage must be a folder, an fsspec URL or a ResultStorage, got {spec!r}."
    )


def _deserialise(
    handle: _Readable, header: dict[str, Any], after: _AfterHeader, location: str
) -> Any:
    sizes: list[int] = header.get("buffers", [])
    size = header.get("payload")
    rest = after.data
    try:
        if size is None:  # a file without out-of-band buffers
            return pickle.loads(rest + handle.read())
        if not sizes and len(rest) >= size:  # a small result, read whole with its header
            return pickle.loads(rest if len(rest) == size else rest[:size])
        view = _body(handle, after, size + sum(sizes))
        offsets, buffers = size, []
        for length in sizes:
            buffers.append(view[offsets : offsets + length])
            offsets += length
        return pickle.loads(view[:size], buffers=buffers)
    except Exception as error:
        raise ResultError(
            f"The persisted result at {location} cannot be read back ({error}). "
            "Delete the file or run with refresh_cache=True to compute it again."
        ) from error


def _body(handle: _Readable, after: _AfterHeader, length: int) -> memoryview:
    """The ``length`` bytes after the header as writable memory: mapped copy-on-write
    when they are many and local (no read, no copy until a page is touched), else read
    into a new block (after the ones read with the header; zeros past a short file)."""
    if length >= _MAP_AT and hasattr(handle, "fileno"):
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        else:
            return memoryview(mapped)[after.start : after.start + length]
    block = bytearray(length)
    view = memoryview(block)
    filled = min(len(after.data), length)
    view[:filled] = after.data[:filled]
    while filled < length:
        count = handle.readinto(view[filled:])
        if not count:
            break
        filled += count
    return view


class _AfterHeader(NamedTuple):
    """Where a result file's header ends, and the bytes after it read with the header."""

    start: int
    data: bytes


def _read_header(handle: _Readable, location: str) -> tuple[dict[str, Any], _AfterHeader]:
    """The file's header line, parsed. A small file is read whole with it, in one read."""
    data = handle.read(_READ_SIZE)
    end = data.find(b"\n")
    while end < 0:  # a header longer than one read (a result of thousands of buffers)
        more = handle.read(_READ_SIZE)
        if not more:
            end = len(data)  # no line end: all of it is the line, as readline() has it
            break
        searched, data = len(data), data + more
        end = data.find(b"\n", searched)
    if not data.startswith(_MAGIC):
        raise ResultError(f"{location} is not a Taskbook result file; delete it to recompute.")
    try:
        header = _parse_header(data[len(_MAGIC) : end])
    except ValueError:
        raise ResultError(
            f"The result file {location} is damaged (its header is cut short); delete it "
            "to recompute."
        ) from None
    return header, _AfterHeader(end + 1, data[end + 1 :])


_decoder = json.JSONDecoder()


def _parse_header(line: bytes) -> dict[str, Any]:
    """``json.loads(line)``, in half its time for the lines ``write`` makes (an object,
    nothing around it); any other line is left to ``json.loads``, its rules and errors."""
    try:
        text = line.decode()
        header, end = _decoder.raw_decode(text)
        if end == len(text):
            return header  # type: ignore[no-any-return]
    except ValueError:
        pass
    return json.loads(line)  # type: ignore[no-any-return]


class _Readable(Protocol):
    """What ``read`` reads a result file through: a local file or an fsspec one."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: memoryview, /) -> int | None: ...
    def close(self) -> None: ...


class _LocalFile:
    """A local result file read through its descriptor: ``open()`` makes a file object
    and a buffer, which cost a cached lookup more than reading a small file does. Reads
    past the first go through a file object (on the same descriptor)."""

    __slots__ = ("fd",)

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, _READ_FLAGS)

    def close(self) -> None:
        os.close(self.fd)

    def fileno(self) -> int:
        return self.fd

    def read(self, size: int = -1, /) -> bytes:
        if size >= 0:
            return os.read(self.fd, size)
        with open(self.fd, "rb", buffering=0, closefd=False) as raw:
            return raw.read()

    def readinto(self, buffer: memoryview, /) -> int | None:
        with open(self.fd, "rb", buffering=0, closefd=False) as raw:
            return raw.readinto(buffer)


def _write_atomic(path: Path, pieces: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
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
