"""Workers: claim due runs from the store and execute them, one at a time, headless.

A worker claims a run atomically (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded
update on SQLite), so any number of workers on any machines can share one store. Each
run executes in a child process (``python -m papermill_bridge._execute RUN_ID``); the
worker beats the run's heartbeat while it runs and stops the child when the run is
cancelled. A worker that dies stops beating, and the scheduler marks its run Crashed; on
Linux its executor is killed with it (and the kernel follows), so a retry never runs
beside the attempt it replaces.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

__all__ = ["HEARTBEAT_SECONDS", "Worker"]

HEARTBEAT_SECONDS = 5.0


def _store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


class Worker:
    """Claims and executes deployment runs until stopped."""

    def __init__(
        self,
        worker_id: str | None = None,
        poll_seconds: float = 0.2,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        # A claimed run's deployment slot outlives a missed beat or two, not a dead worker.
        self.lease_seconds = max(30.0, 3 * heartbeat_seconds)
        self.stopping = threading.Event()
        self._spare: _Executor | None = None
        self._serving = False

    def serve(self) -> None:
        """Claim and execute runs until ``stopping`` is set."""
        self._spare, self._serving = _spawn(), True
        try:
            while not self.stopping.is_set():
                if not self.run_once():
                    self.stopping.wait(self.poll_seconds)
        finally:
            self._serving = False
            if self._spare is not None:
                self._spare.communicate("")  # an empty run id: the spare exits
                self._spare.outputs()

    def run_once(self) -> bool:
        """Execute the next due run, if there is one; True if a run was executed."""
        claimed = _store().claim_next_run(
            self.worker_id, time.time(), lease_seconds=self.lease_seconds
        )
        if claimed is None:
            return False
        self.execute(claimed["id"])
        return True

    def execute(self, run_id: str) -> dict[str, Any]:
        store = _store()
        started = store.set_run_state(
            run_id, "RUNNING", "Running", f"Executing on {self.worker_id}", only_from=("PENDING",)
        )
        if started.get("state_type") != "RUNNING":  # cancelled between claim and start
            return {"state": started.get("state"), "message": "Not started."}
        child, self._spare = self._spare or _spawn(), None
        assert child.stdin is not None
        child.stdin.write(run_id + "\n")
        child.stdin.close()
        child.stdin = None
        if self._serving and not self.stopping.is_set():
            self._spare = _spawn()  # warms up while this run executes
        verdict = self._watch(run_id, child)
        child.wait()
        outcome = _outcome(child, verdict)
        if verdict != "lost":  # a reaped run is someone else's now: leave its state alone
            # A run that suspended itself (a headless pause) keeps that state, and a run
            # that another attempt took over (reaped and claimed again) is not ours to end.
            store.set_run_state(
                run_id,
                _TYPES.get(outcome["state"], "FAILED"),
                outcome["state"],
                outcome["message"],
                outcome.get("details"),
                only_from=("PENDING", "RUNNING", "CANCELLING"),
                attempt=(self.worker_id, started["run_count"]),
            )
        return outcome

    def _watch(self, run_id: str, child: _Executor) -> str:
        """Beat until the child ends: "done", or "cancelled" / "lost" after stopping it."""
        store = _store()
        while child.poll() is None:
            try:
                alive = store.heartbeat(run_id, self.worker_id, time.time(), self.lease_seconds)
                state = store.read_flow_run(run_id)["state_type"]
            except Exception:  # a store blip must not kill the worker and orphan the kernel
                alive, state = True, "RUNNING"
            if not alive or state == "CANCELLING":
                _stop(child)
                return "cancelled" if alive else "lost"
            try:
                child.wait(timeout=self.heartbeat_seconds)
            except subprocess.TimeoutExpired:
                pass
        return "done"


_TYPES = {"Completed": "COMPLETED", "Cancelled": "CANCELLED", "Crashed": "CRASHED"}


def _stop(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()


class _Executor(subprocess.Popen[str]):
    """An executor process whose output goes to files, not pipes: a kernel that writes a
    lot to its stderr would otherwise fill a pipe nobody reads while the run executes."""

    def __init__(self) -> None:
        self.out_file = tempfile.TemporaryFile("w+")
        self.err_file = tempfile.TemporaryFile("w+")
        super().__init__(
            [sys.executable, "-m", "papermill_bridge._execute"],
            stdin=subprocess.PIPE,
            stdout=self.out_file,
            stderr=self.err_file,
            text=True,
            preexec_fn=_parent_death_signal(),
        )

    def outputs(self) -> tuple[str, str]:
        """What it printed, once it has ended; closes the files."""
        texts = []
        for handle in (self.out_file, self.err_file):
            handle.seek(0)
            texts.append(handle.read())
            handle.close()
        return texts[0], texts[1]


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


def _spawn() -> _Executor:
    return _Executor()


def _outcome(child: _Executor, verdict: str) -> dict[str, Any]:
    (out, err), code = child.outputs(), child.returncode
    if verdict == "lost":
        return {"state": "Crashed", "message": "Its heartbeat was refused; stopped."}
    if verdict == "cancelled":
        return {"state": "Cancelled", "message": "Cancelled; its kernel was stopped."}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if code == 0 and lines:
        return json.loads(lines[-1])  # type: ignore[no-any-return]
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return {"state": "Crashed", "message": f"The run's process exited with {code}: {tail}"}
