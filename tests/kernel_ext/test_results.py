"""Result files: round trips, large buffers out of band, expiry, and damaged files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from kernel_ext import ResultError
from kernel_ext._results import ResultStorage


def test_round_trip_of_plain_values(tmp_path: Path) -> None:
    storage = ResultStorage(str(tmp_path))
    storage.write("k", {"a": [1, 2], "b": "text"}, None, "test")
    hit = storage.read("k")
    assert hit is not None and hit.value == {"a": [1, 2], "b": "text"}


@pytest.mark.parametrize("size", [10, 4 * 2**20])  # read into memory, and memory-mapped
def test_arrays_come_back_equal_and_writable(tmp_path: Path, size: int) -> None:
    storage = ResultStorage(str(tmp_path))
    array = np.arange(size, dtype=np.int64)
    storage.write("arr", {"x": array, "y": array[::2].copy()}, None, "test")
    hit = storage.read("arr")
    assert hit is not None
    restored = hit.value["x"]
    assert np.array_equal(restored, array) and np.array_equal(hit.value["y"], array[::2])
    restored[0] = -1  # copy-on-write: the file is untouched
    again = storage.read("arr")
    assert again is not None and again.value["x"][0] == 0


def test_expired_results_are_misses(tmp_path: Path) -> None:
    storage = ResultStorage(str(tmp_path))
    storage.write("k", 1, time.time() - 1, "test")
    assert storage.read("k") is None


def test_a_damaged_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "k").write_bytes(b"garbage")
    with pytest.raises(ResultError, match="not a Taskbook result file; delete it"):
        ResultStorage(str(tmp_path)).read("k")


def test_closures_fall_back_to_cloudpickle(tmp_path: Path) -> None:
    storage = ResultStorage(str(tmp_path))
    offset = 5
    storage.write("fn", lambda x: x + offset, None, "test")
    hit = storage.read("fn")
    assert hit is not None and hit.value(1) == 6
