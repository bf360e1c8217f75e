"""A headless pause keeps its ``timeout=``: once it passes, the request expires, the
Suspended run fails with PauseTimeout, and a late answer is refused. Runs execute for
real (a worker, papermill, a kernel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kernel_ext._errors import InputAlreadyAnswered
from tests.papermill_bridge.test_deployments import home, store, write_notebook

__all__ = ["home"]

pytestmark = pytest.mark.slow

PAUSE = (
    "from kernel_ext import pause_flow_run\n"
    "approved = pause_flow_run(wait_for_input=bool, key='ship', timeout=6)"
)


def suspended_run(home: Path) -> dict[str, Any]:
    from papermill_bridge import Worker, promote, start_run

    promote(write_notebook(home, extra=PAUSE), "greet")
    run = start_run("greet")
    assert Worker().run_once()
    suspended = store().read_flow_run(run["id"])
    assert suspended["state"] == "Suspended", suspended
    return suspended  # type: ignore[no-any-return]


def sleep_past_timeout(run: dict[str, Any]) -> None:
    """Sleep until the run's pause has timed out (its own ``timeout_at``, not a guess at
    how long the worker took to get there)."""
    from datetime import UTC, datetime

    (request,) = store().list_input_requests(status=None, flow_run_id=run["id"])
    timeout_at = datetime.fromisoformat(request["timeout_at"])
    if timeout_at.tzinfo is None:
        timeout_at = timeout_at.replace(tzinfo=UTC)
    left = (timeout_at - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, left) + 0.3)


def test_the_scheduler_expires_an_unanswered_headless_pause(home: Path) -> None:
    from kernel_ext import approvals
    from papermill_bridge import Scheduler

    run = suspended_run(home)
    assert Scheduler().tick()["expired"] == 0  # not yet due (6 s after the pause)
    sleep_past_timeout(run)
    assert Scheduler().tick()["expired"] == 1
    failed = store().read_flow_run(run["id"])
    assert failed["state"] == "Failed"
    assert failed["state_message"].startswith("PauseTimeout: no answer to 'ship' before")
    assert failed["failure"]["exception_type"] == "PauseTimeout"
    (request,) = store().list_input_requests(status=None, flow_run_id=run["id"])
    assert request["status"] == "expired"
    with pytest.raises(InputAlreadyAnswered, match="expired"):
        approvals.answer(run["id"][:8], "true")
    assert store().read_flow_run(run["id"])["state"] == "Failed"
    assert Scheduler().tick()["expired"] == 0  # once only


def test_a_late_answer_is_refused_before_the_scheduler_sees_it(home: Path) -> None:
    from kernel_ext import approvals

    run = suspended_run(home)
    sleep_past_timeout(run)
    with pytest.raises(InputAlreadyAnswered, match="expired"):
        approvals.answer(run["id"][:8], "true")
    failed = store().read_flow_run(run["id"])
    assert failed["state"] == "Failed", failed  # not queued again
    with pytest.raises(InputAlreadyAnswered):
        approvals.reject(run["id"][:8], "too late")
