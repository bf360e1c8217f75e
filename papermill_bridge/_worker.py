"""Workers: claim due runs from the store and execute them, one at a time, headless.

A worker claims a run atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded
update on SQLite), so any number of workers on any machines can share one store. Each
run executes in a child process (``python -m papermill_bridge._execute``), which reports
how the run ended as a ``RunOutcome`` in a file (see ``_outcome``); the worker beats the
run's heartbeat while it runs and stops the child when the run is cancelled. A worker
that dies stops beating, and the scheduler marks its run Crashed; on Linux its executor
is killed with it (and the kernel follows), so a retry never runs beside the attempt it
replaces.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import BUSY_TYPES, Cancelled, Crashed, Running, State, StateType
from kernel_ext.store import get_store
from papermill_bridge._outcome import RunOutcome

__all__ = ["HEARTBEAT_SECONDS", "Worker"]

HEARTBEAT_SECONDS = 5.0

_EXECUTE = "papermill_bridge._execute"


class _Verdict(Enum):
    """How watching an executor ended."""

    DONE = "done"  # the child ended by itself
    CANCELLED = "cancelled"  # the run was cancelled: the child was stopped
    LOST = "lost"  # the run is no longer this worker's: the child was stopped


class Worker:
    """Claims and executes deployment runs until stopped."""

    def __init__(
        self,
        worker_id: str | None = None,
        poll_seconds: float = 0.2,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        deployments: Sequence[str] | None = None,
    ) -> None:
        """``deployments``: claim only these deployments' runs (a served flow's worker);
        None, any deployment's."""
        self.deployments = None if deployments is None else tuple(deployments)
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        # A claimed run's deployment slot outlives a missed beat or two, not a dead worker.
        self.lease_seconds = max(30.0, 3 * heartbeat_seconds)
        self.stopping = threading.Event()
        self.current: FlowRunId | None = None  # the run it executes now, if any
        self._spare: _Executor | None = None
        self._serving = False

    def serve(self) -> None:
        """Claim and execute runs until ``stopping`` is set."""
        self._spare, self._serving = _Executor(), True
        try:
            while not self.stopping.is_set():
                if not self.run_once():
                    self.stopping.wait(self.poll_seconds)
        finally:
            self._serving = False
            if self._spare is not None:
                self._spare.communicate("")  # an empty run id: the spare exits
                self._spare.close()

    def run_once(self) -> bool:
        """Execute the next due run, if there is one; True if a run was executed."""
        claimed = get_store().claim_next_run(
            self.worker_id, time.time(), lease_seconds=self.lease_seconds, only=self.deployments
        )
        if claimed is None:
            return False
        self.execute(claimed["id"])
        return True

    def execute(self, run_id: FlowRunId) -> RunOutcome:
        """Execute a run this worker claimed (Pending), and record how it ended."""
        store = get_store()
        running = Running(f"Executing on {self.worker_id}")
        started = store.set_run_state(run_id, running, only_from=(StateType.PENDING,))
        attempt = (self.worker_id, started["run_count"])
        if started["state_type"] != StateType.RUNNING:
            return self._not_started(run_id, started["state_type"], started["state"], attempt)
        child = self._take_executor()
        self.current = run_id
        try:
            verdict = self._run(run_id, child)
            outcome = _outcome(child, verdict)
        finally:
            self.current = None
            child.close()
        if verdict is not _Verdict.LOST:  # a reaped run is someone else's now
            # A run that suspended itself (a headless pause) keeps that state, and a run
            # that another attempt took over (reaped and claimed again) is not ours to end.
            store.set_run_state(run_id, outcome.state, only_from=BUSY_TYPES, attempt=attempt)
        return outcome

    def _not_started(
        self, run_id: FlowRunId, kind: StateType, name: str, attempt: tuple[str, int]
    ) -> RunOutcome:
        """A run cancelled between its claim and its start: nothing executes it, so this
        worker ends the cancellation (else it would look like a dead worker's, and be
        retried)."""
        if kind != StateType.CANCELLING:
            return RunOutcome(State(kind, name, "Not started."))
        cancelled = Cancelled("Cancelled before it started.")
        get_store().set_run_state(
            run_id, cancelled, only_from=(StateType.CANCELLING,), attempt=attempt
        )
        return RunOutcome(cancelled)

    def _take_executor(self) -> _Executor:
        """The warm spare if it is still alive (one whose start failed, e.g. on a store
        blip, has exited), else a new executor."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            return spare
        if spare is not None:
            spare.close()
        return _Executor()

    def _run(self, run_id: FlowRunId, child: _Executor) -> _Verdict:
        """Hand ``child`` the run, warm the next spare, and watch the run to its end."""
        try:
            child.start(run_id)
        except OSError:  # it died after the look above: its outcome says it crashed
            child.wait()
            return _Verdict.DONE
        if self._serving and not self.stopping.is_set():
            try:
                self._spare = _Executor()  # warms up while this run executes
            except OSError:  # no spare this time: the next run starts one itself
                self._spare = None
        verdict = self._watch(run_id, child)
        child.wait()
        return verdict

    def _watch(self, run_id: FlowRunId, child: _Executor) -> _Verdict:
        """Beat until the child ends, or stop it when the run is cancelled or lost."""
        store = get_store()
        while child.poll() is None:
            try:
                alive = store.heartbeat(run_id, self.worker_id, time.time(), self.lease_seconds)
                cancelling = store.read_flow_run(run_id)["state_type"] == StateType.CANCELLING
            except Exception:  # a store blip must not kill the worker and orphan the kernel
                alive, cancelling = True, False
            if not alive or cancelling:
                _stop(child)
                return _Verdict.CANCELLED if alive else _Verdict.LOST
            try:
                child.wait(timeout=self.heartbeat_seconds)
            except subprocess.TimeoutExpired:
                pass
        return _Verdict.DONE


def _stop(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()


class _Executor(subprocess.Popen[str]):
    """An executor process, started warm: it loads its modules, then waits for the run id.

    Its output goes to files, not pipes: a kernel that writes a lot to its stderr would
    otherwise fill a pipe nobody reads while the run executes. Its outcome comes back in
    a file of its own (see ``_outcome``), never from what it printed.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="taskbook-executor-"))
        self.outcome_path = self.folder / "outcome.json"
        self.out_file = tempfile.TemporaryFile("w+")
        self.err_file = tempfile.TemporaryFile("w+")
        try:
            super().__init__(
                [sys.executable, "-m", _EXECUTE, "--outcome", str(self.outcome_path)],
                stdin=subprocess.PIPE,
                stdout=self.out_file,
                stderr=self.err_file,
                text=True,
                preexec_fn=_parent_death_signal(),
            )
        except BaseException:
            self.close()
            raise

    def start(self, run_id: FlowRunId) -> None:
        """Hand the waiting process its run; ``OSError`` if it is gone."""
        stdin, self.stdin = self.stdin, None
        assert stdin is not None
        try:
            stdin.write(run_id + "\n")
            stdin.flush()
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def stderr_tail(self) -> str:
        """The last line it wrote to stderr, once it has ended."""
        self.err_file.seek(0)
        return (self.err_file.read().strip().splitlines() or ["no output"])[-1]

    def close(self) -> None:
        """Forget it, once it has ended: its output files and its outcome."""
        self.out_file.close()
        self.err_file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Any:
    """What the executor runs before it starts: be killed when the worker dies (Linux).

    A worker killed with SIGKILL cannot stop its executor; without this the notebook
    would go on running unsupervised while the scheduler queues a retry of the same run.
    The kernel follows its executor by itself (ipykernel exits when its parent changes).
    Elsewhere the executor outlives a killed worker until its notebook ends, and the
    kernel's fence (kernel_ext.deployment) stops it once the store says its attempt is
    over. ``prctl`` is looked up here, in the worker: between fork and exec only the
    call itself runs. The signal follows the thread that spawns the executor, which in
    ``taskbook serve`` and ``taskbook worker`` lives as long as the worker.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    worker = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != worker:  # the worker died before the line above
            os._exit(1)

    return arm


def _outcome(child: _Executor, verdict: _Verdict) -> RunOutcome:
    """How the run ended: from the verdict if it was stopped, else from what its executor
    reported; an executor that ended without a report crashed."""
    if verdict is _Verdict.LOST:
        return RunOutcome(Crashed("Its heartbeat was refused; stopped."))
    if verdict is _Verdict.CANCELLED:
        return RunOutcome(Cancelled("Cancelled; its kernel was stopped."))
    code = child.returncode
    try:
        reported = RunOutcome.read(child.outcome_path)
    except (OSError, ValueError) as error:  # ValueError: OutcomeFormatError, bad UTF-8
        return RunOutcome(
            Crashed(f"The run's process left an outcome that cannot be read: {error}")
        )
    if code == 0 and reported is not None:
        return reported
    return RunOutcome(Crashed(f"The run's process exited with {code}: {child.stderr_tail()}"))
