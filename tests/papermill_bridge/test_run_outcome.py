"""How an execution ends: the ``RunOutcome`` an executor hands its worker, and what the
worker records when there is none, or when nothing was executed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kernel_ext import TaskbookError
from kernel_ext._states import Cancelled, Completed, Failed, StateType
from papermill_bridge import OutcomeFormatError, RunOutcome
from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]


def test_an_outcome_crosses_as_json_with_its_state_whole(tmp_path: Path) -> None:
    details = {"cell_number": 3, "exception_type": "KeyError", "traceback": "..."}
    failed = Failed("Cell 3 raised KeyError: 'y'", details=details, timestamp=1764651000.25)
    outcome = RunOutcome(failed, output="/outputs/nightly/1a2b.ipynb")
    path = tmp_path / "outcome.json"
    outcome.write(path)

    back = RunOutcome.read(path)
    assert back is not None and back.output == outcome.output
    state = back.state
    assert (state.type, state.name, state.message) == (StateType.FAILED, "Failed", failed.message)
    assert (state.details, state.timestamp) == (details, 1764651000.25)
    assert json.loads(path.read_text())["format"] == 1
    assert not list(tmp_path.glob("*.partial"))  # written whole, then renamed


def test_no_file_means_no_outcome(tmp_path: Path) -> None:
    assert RunOutcome.read(tmp_path / "outcome.json") is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Completed", "not JSON"),
        ('{"format": 2, "state": {}}', "format 1"),
        ('{"format": 1, "output": null}', "no state"),
        ('{"format": 1, "state": {"type": "DONE", "name": "Done", "timestamp": 1}}', "DONE"),
        ('{"format": 1, "state": {"type": "COMPLETED", "timestamp": 1}}', "no name"),
        ('{"format": 1, "state": {"type": "COMPLETED", "name": "Completed"}}', "no time"),
        (
            '{"format": 1, "state": {"type": "FAILED", "name": "Failed", "timestamp": 1, '
            '"details": [1]}}',
            "not an object",
        ),
    ],
)
def test_an_outcome_that_is_not_one_says_why(text: str, why: str) -> None:
    with pytest.raises(OutcomeFormatError, match=why) as raised:
        RunOutcome.from_json(text)
    assert isinstance(raised.value, TaskbookError)


def _ended(code: int, outcome_path: Path, stderr: str = "boom") -> Any:
    """What the worker knows of an executor that has ended."""
    return SimpleNamespace(returncode=code, outcome_path=outcome_path, stderr_tail=lambda: stderr)


def test_the_worker_takes_the_reported_outcome_or_records_a_crash(tmp_path: Path) -> None:
    from papermill_bridge._worker import _outcome, _Verdict

    path = tmp_path / "outcome.json"
    assert _outcome(_ended(1, path, "MemoryError"), _Verdict.DONE).state.message == (
        "The run's process exited with 1: MemoryError"
    )
    RunOutcome(Completed(), "/out.ipynb").write(path)
    assert _outcome(_ended(0, path), _Verdict.DONE).state.type is StateType.COMPLETED
    assert _outcome(_ended(0, path), _Verdict.CANCELLED).state.name == "Cancelled"
    assert _outcome(_ended(0, path), _Verdict.LOST).state.name == "Crashed"
    path.write_bytes(b"\xff\xfe not text")
    crashed = _outcome(_ended(0, path), _Verdict.DONE).state
    assert crashed.name == "Crashed" and "cannot be read" in (crashed.message or "")


@pytest.mark.slow
def test_a_run_cancelled_between_claim_and_start_ends_cancelled_not_retried(home: Path) -> None:
    from papermill_bridge import Scheduler, Worker, promote, start_run

    promote(write_notebook(home), "greet", retries=1)
    run = start_run("greet")
    assert store().claim_next_run("w1", time.time())["id"] == run["id"]
    assert store().request_cancel(run["id"])["state"] == "Cancelling"

    outcome = Worker(worker_id="w1").execute(run["id"])

    assert outcome.state.name == "Cancelled"
    ended = store().read_flow_run(run["id"])
    assert (ended["state"], ended["state_message"]) == ("Cancelled", "Cancelled before it started.")
    Scheduler().tick(time.time() + 600)  # long after any worker would have beaten
    assert store().read_flow_run(run["id"])["state"] == "Cancelled"  # not Crashed, no retry


def test_state_records_keep_their_string_form_in_json() -> None:
    assert json.dumps({"state_type": Cancelled().type}) == '{"state_type": "CANCELLED"}'
