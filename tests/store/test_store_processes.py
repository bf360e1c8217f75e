"""Whole processes: exiting right after the work, many writers on one SQLite file, and
answers to one input request racing from several processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kernel_ext import _settings
from kernel_ext._events import bus
from kernel_ext._run_records import new_id
from kernel_ext._states import Completed
from kernel_ext.store import Store, get_store
from tests.store.helpers import Runs, count_rows

WRITE_TASK_RUNS = textwrap.dedent(
    """
    import sys, time
    from kernel_ext import _settings
    from kernel_ext._events import StateEvent, bus
    from kernel_ext._run_records import TaskRun, new_id
    from kernel_ext._states import Completed, Pending, Running
    from kernel_ext.store import get_store

    url, count, start_at, flush = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    with _settings.override(TASKBOOK_STORE_URL=url):
        time.sleep(max(0.0, start_at - time.time()))  # all processes open the store at once
        store = get_store()
        for i in range(count):
            run = TaskRun(id=new_id(), name=f"t-{i}", task_key="t", flow_run_id=None)
            for state in (Pending(), Running(), Completed()):
                run.state = state
                bus.emit(StateEvent(run, state))
        if flush == "flush":
            store.flush()
    """
)

ANSWER_INPUT = textwrap.dedent(
    """
    import sys, time
    from kernel_ext._errors import InputAlreadyAnswered
    from kernel_ext.store import Store

    url, request_id, who, action, start_at = sys.argv[1:6]
    with Store(url) as store:  # opened before the start: the race is the answers alone
        time.sleep(max(0.0, float(start_at) - time.time()))
        try:
            if action == "answer":
                store.answer_input_request(request_id, {"approved": True}, who)
            else:
                store.reject_input_request(request_id, who, "not today")
        except InputAlreadyAnswered as error:
            print("lost", error)
        else:
            print("won")
    """
)


def _spawn(url: str, count: int, start_at: float, flush: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITE_TASK_RUNS,
            url,
            str(count),
            str(start_at),
            "flush" if flush else "exit",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _spawn_answer(
    url: str, request_id: str, who: str, action: str, start_at: float
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ANSWER_INPUT, url, request_id, who, action, str(start_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_events_queued_at_exit_are_written(store_url: str) -> None:
    process = _spawn(store_url, 10_000, 0.0, flush=False)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stderr == ""
    assert count_rows(store_url, "task_runs") == 10_000
    assert count_rows(store_url, "state_history") == 30_000


@pytest.mark.slow
def test_eight_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"  # new file: they also migrate it together
    start_at = time.time() + 1.5
    processes = [_spawn(url, 2_000, start_at, flush=True) for _ in range(8)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        assert "locked" not in stderr
        assert stderr == ""
    assert count_rows(url, "task_runs") == 16_000
    assert count_rows(url, "state_history") == 48_000


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_store(tmp_path: Path, runs: Runs) -> None:
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    with _settings.override(TASKBOOK_STORE_URL=url):
        parent = get_store()
        parent.submit(runs.move(runs.task(name="parent"), Completed()))
        pid = os.fork()
        if pid == 0:  # the child: exit without running the parent's cleanup
            code = 1
            try:
                child = get_store()
                code = 2 if child is parent else 0
                bus.emit(runs.move(runs.task(name="child"), Completed()))
                child.flush()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        parent.flush()
    assert count_rows(url, "task_runs") == 2


def test_answers_racing_from_processes_have_one_winner(store_url: str) -> None:
    with Store(store_url) as store:
        request = store.create_input_request(
            id=new_id(), flow_run_id=new_id(), key="review", schema={}, timeout_at=None
        )
    start_at = time.time() + 2.0
    racers = {f"p{i}": "answer" if i % 2 else "reject" for i in range(6)}
    processes = {
        who: _spawn_answer(store_url, request["id"], who, action, start_at)
        for who, action in racers.items()
    }
    outcomes = {}
    for who, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        assert stderr == ""
        outcomes[who] = stdout.strip()

    winners = [who for who, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    with Store(store_url) as store:
        final = store.read_input_request(request["id"])
    assert final["answered_by"] == winners[0]
    assert final["status"] == ("answered" if racers[winners[0]] == "answer" else "rejected")
    for who, outcome in outcomes.items():
        if who != winners[0]:
            assert outcome.startswith("lost"), outcome
            assert f"by {winners[0]} at" in outcome
