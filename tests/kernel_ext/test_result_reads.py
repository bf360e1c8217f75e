"""Reading result files: a small one in one read, and the larger and odder ones around it.

A local result file is read through its descriptor, its first block at once; these cover
what lies past that block (long payloads, long headers, out-of-band buffers), files
written by other serializers, cut-short and damaged files, and results at fsspec URLs.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kernel_ext import ResultError
from kernel_ext._results import _READ_SIZE, ResultStorage


def _storage(tmp_path: Path) -> ResultStorage:
    return ResultStorage(str(tmp_path))


@pytest.mark.parametrize("size", [0, 1, _READ_SIZE - 200, _READ_SIZE, 3 * _READ_SIZE + 7])
def test_payloads_around_the_first_read_come_back_whole(tmp_path: Path, size: int) -> None:
    storage = _storage(tmp_path)
    value = {"blob": bytes(range(256)) * (size // 256) + b"x" * (size % 256)}
    storage.write("k", value, None, "test")
    hit = storage.read("k")
    assert hit is not None and hit.value == value
    assert hit.location == storage.location("k")


def test_a_header_longer_than_the_first_read(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    arrays = [np.full(3, i, dtype=np.int32) for i in range(20_000)]  # 20,000 buffers
    storage.write("many", arrays, None, "test")
    with open(storage.location("many"), "rb") as handle:
        assert len(handle.readline()) > _READ_SIZE
    hit = storage.read("many")
    assert hit is not None
    assert all(np.array_equal(a, b) for a, b in zip(hit.value, arrays, strict=True))
    hit.value[0][0] = -1  # out-of-band buffers come back writable


@pytest.mark.parametrize("size", [100, 40_000, 300_000])  # in the first read, past it, both
def test_buffers_past_the_first_read_come_back_equal_and_writable(
    tmp_path: Path, size: int
) -> None:
    storage = _storage(tmp_path)
    value = {"a": np.arange(size, dtype=np.float64), "b": np.arange(7, dtype=np.int8)}
    storage.write("arr", value, None, "test")
    hit = storage.read("arr")
    assert hit is not None
    assert np.array_equal(hit.value["a"], value["a"])
    assert np.array_equal(hit.value["b"], value["b"])
    hit.value["a"][0] = -1.0


class _Upper:
    """A serializer of the user's own: JSON, its text in capitals on disk."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value).upper().encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode().lower())


@pytest.mark.parametrize("serializer", ["json", _Upper()])
@pytest.mark.parametrize("length", [3, 2 * _READ_SIZE])
def test_other_serializers_read_the_whole_rest(
    tmp_path: Path, serializer: Any, length: int
) -> None:
    storage = _storage(tmp_path)
    value = {"text": "abc" * length}
    storage.write("k", value, None, "test", serializer)
    hit = storage.read("k", serializer=serializer)
    assert hit is not None and hit.value == value


def test_a_file_cut_short_after_its_header_cannot_be_read(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.write("k", list(range(1000)), None, "test")
    path = Path(storage.location("k"))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ResultError, match="cannot be read back"):
        storage.read("k")


def test_a_file_cut_short_in_its_header_says_so(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    storage.write("k", 1, None, "test")
    path = Path(storage.location("k"))
    path.write_bytes(path.read_bytes()[:20])  # no line end: all of it is the header
    with pytest.raises(ResultError, match="header is cut short"):
        storage.read("k")


def test_an_empty_file_is_not_a_result_file(tmp_path: Path) -> None:
    (tmp_path / "k").write_bytes(b"")
    with pytest.raises(ResultError, match="not a Taskbook result file"):
        _storage(tmp_path).read("k")


def test_a_header_with_spaces_around_it_still_reads(tmp_path: Path) -> None:
    header = {"created": 1.0, "expiration": None, "payload": 2, "buffers": []}
    payload = pickle.dumps(7, protocol=5)
    header["payload"] = len(payload)
    line = b"TBR1 " + json.dumps(header).encode() + b" \n"
    (tmp_path / "k").write_bytes(line + payload)
    hit = _storage(tmp_path).read("k")
    assert hit is not None and hit.value == 7 and hit.created == 1.0


def test_a_header_with_more_after_it_on_its_line_is_damaged(tmp_path: Path) -> None:
    line = b'TBR1{"created": 1.0, "payload": 1, "buffers": []} {}\n'
    (tmp_path / "k").write_bytes(line + b".")
    with pytest.raises(ResultError, match="damaged"):
        _storage(tmp_path).read("k")


def test_a_file_without_a_payload_size_reads_the_rest(tmp_path: Path) -> None:
    payload = pickle.dumps({"old": True})
    (tmp_path / "k").write_bytes(b'TBR1{"created": 2.0}\n' + payload)
    hit = _storage(tmp_path).read("k")
    assert hit is not None and hit.value == {"old": True}


def test_a_missing_file_is_a_miss(tmp_path: Path) -> None:
    assert _storage(tmp_path).read("nothing-here") is None


def test_results_at_an_fsspec_url_read_back(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    storage = ResultStorage("memory://taskbook-result-reads")
    big = np.arange(50_000, dtype=np.int64)
    storage.write("small", {"a": 1}, None, "test")
    storage.write("big", {"big": big, "blob": b"y" * (2 * _READ_SIZE)}, None, "test")
    small, large = storage.read("small"), storage.read("big")
    assert small is not None and small.value == {"a": 1}
    assert large is not None and np.array_equal(large.value["big"], big)
    assert large.value["blob"] == b"y" * (2 * _READ_SIZE)
