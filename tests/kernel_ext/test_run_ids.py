"""Run ids: random UUIDs (version 4), never given twice, in threads or a forked child."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from kernel_ext._run_records import new_id


def test_run_ids_are_version_4_uuids_as_uuid_spells_them() -> None:
    for run_id in (new_id() for _ in range(600)):  # across more than one batch
        parsed = uuid.UUID(run_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == run_id


def test_threads_making_ids_at_once_never_share_one() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [run_id for into in made for run_id in into]
    assert len(set(every)) == len(every) == 20_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_id()  # the parent holds a batch of random numbers it has not used yet
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    parents = {new_id() for _ in range(10)}
    assert len(childs) == 10
    assert not childs & parents
