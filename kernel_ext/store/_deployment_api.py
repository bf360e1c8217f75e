"""The store's deployment methods: what promote, the scheduler and the workers call."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Scheduled, State, StateType
from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import (
    LEASE_SECONDS,
    DeletedDeployment,
    DeletedRun,
    DeploymentDetail,
    DeploymentSummary,
    FlowRunRecord,
    NotebookVersion,
    PromotedDeployment,
    ReplacedSchedules,
    ScheduleEntry,
    ScheduleRecord,
)

__all__ = ["DeploymentApi"]


class DeploymentApi(Transactions):
    """Deployments, their versions and schedules, and the runs the scheduler creates and
    the workers claim, in synchronous transactions seen at once by every process.

    Times given are epoch seconds (the caller's clock, so tests can move it); times
    returned are ISO-8601 UTC strings. A deployment is named by its name or its id; an
    unknown one raises ``DeploymentNotFound`` saying how to list them, an unknown run
    ``RunNotFound``.
    """

    def create_deployment_version(
        self,
        *,
        name: str,
        notebook_path: str,
        notebook: str | Mapping[str, Any],
        notebook_sha256: str,
        parameters: Sequence[Mapping[str, Any]],
        tags: Sequence[str] = (),
        description: str | None = None,
        concurrency_limit: int | None = None,
        retries: int = 0,
        profile: str | None = None,
    ) -> PromotedDeployment:
        """Promote a notebook: create deployment ``name`` at version 1, or add the next
        version; the settings given replace the deployment's.

        ``notebook`` is the .ipynb text (a dict is stored as JSON), ``parameters`` its
        schema (``[{name, type, default, help}]``). If ``notebook_sha256`` is the latest
        version's, no version is added and the result says ``"unchanged": True``. Returns
        the deployment with its ``version`` (without the notebook).
        """
        from kernel_ext.store import _deployments

        return self._write(
            _deployments.create_deployment_version,
            name=name,
            notebook_path=notebook_path,
            notebook=notebook,
            notebook_sha256=notebook_sha256,
            parameters=parameters,
            tags=tags,
            description=description,
            concurrency_limit=concurrency_limit,
            retries=retries,
            profile=profile,
        )

    def read_deployment(self, name_or_id: str) -> DeploymentDetail:
        """A deployment with its latest ``version`` number, its ``versions`` newest first
        (without the notebooks) and its ``schedules``."""
        from kernel_ext.store import _deployments

        return self._read(_deployments.read_deployment, name_or_id)

    def read_deployment_version(
        self, name_or_id: str, version: int | None = None
    ) -> NotebookVersion:
        """A version of a deployment with its ``notebook`` text; the latest by default."""
        from kernel_ext.store import _deployments

        return self._read(_deployments.read_deployment_version, name_or_id, version)

    def list_deployments(self) -> list[DeploymentSummary]:
        """Every deployment by name, with its latest ``version`` number, ``schedules``,
        last run (``last_run_id``, ``last_run_state``, ``last_run_time``, ...) and
        ``next_run_time`` (its earliest Scheduled run)."""
        from kernel_ext.store import _deployments

        return self._read(_deployments.list_deployments)

    def delete_deployment(self, name_or_id: str) -> DeletedDeployment:
        """Delete a deployment, its versions, schedules and the runs no worker has
        claimed; runs that started stay, and those waiting to go on (AwaitingRetry,
        Resuming, Suspended) end Cancelled. Returns the deployment as it was, with
        ``deleted_runs``."""
        from kernel_ext.store import _deployments

        return self._write(_deployments.delete_deployment, name_or_id)

    def set_deployment_paused(self, name_or_id: str, paused: bool) -> DeploymentDetail:
        """Pause or resume: workers claim no run of a paused deployment."""
        from kernel_ext.store import _deployments

        return self._write(_deployments.set_deployment_paused, name_or_id, paused)

    def list_runs_of_deployment(self, name_or_id: str, limit: int = 50) -> list[FlowRunRecord]:
        """The deployment's runs, latest scheduled time first."""
        from kernel_ext.store import _deployments

        return self._read(_deployments.list_runs_of_deployment, name_or_id, limit)

    def add_schedule(
        self,
        deployment: str,
        spec: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        catchup: str = "latest",
    ) -> ScheduleRecord:
        """Add an active schedule to a deployment. ``spec`` is the schedules module's
        dict, kept as given; ``parameters`` override the deployment's defaults."""
        from kernel_ext.store import _schedules

        return self._write(_schedules.add_schedule, deployment, spec, parameters or {}, catchup)

    def replace_schedules(
        self, deployment: str, entries: Sequence[ScheduleEntry]
    ) -> ReplacedSchedules:
        """Make ``entries`` the deployment's schedules, in one transaction; ``[]`` removes
        them all.

        A schedule whose spec and parameters an entry asks for again is kept, with its
        ``last_slot`` (so it neither runs a slot twice nor catches up), and takes the
        entry's ``active`` and ``catchup``. The others are deleted with their runs that
        no worker has claimed yet (and those runs' history); runs that started stay.
        New ones count their slots from now: none runs a slot of the past. Nothing
        changes if an entry is refused (``ConfigurationError``, "schedule 2: ...").
        """
        from kernel_ext.store import _schedules

        return self._write(_schedules.replace_schedules, deployment, entries)

    def list_schedules(self, active_only: bool = True) -> list[ScheduleRecord]:
        """Schedules, oldest first, with ``deployment_name`` and ``deployment_paused``."""
        from kernel_ext.store import _schedules

        return self._read(_schedules.list_schedules, active_only)

    def set_schedule_active(self, schedule_id: str, active: bool) -> ScheduleRecord:
        """Switch a schedule on or off."""
        from kernel_ext.store import _schedules

        return self._write(_schedules.set_schedule_active, schedule_id, active)

    def advance_schedule(self, schedule_id: str, last_slot: float) -> ScheduleRecord:
        """Record ``last_slot`` as the latest slot given a run; never moves back."""
        from kernel_ext.store import _schedules

        return self._write(_schedules.advance_schedule, schedule_id, last_slot)

    def create_scheduled_run(
        self,
        *,
        id: FlowRunId,
        deployment_id: str,
        deployment_version: int,
        name: str,
        flow_name: str,
        parameters: Mapping[str, Any],
        scheduled_time: float,
        schedule_id: str | None = None,
        slot_key: str | None = None,
        state: State | None = None,
    ) -> FlowRunRecord | None:
        """Create a run of a deployment, due at ``scheduled_time``, in ``state`` (of type
        SCHEDULED: ``Scheduled()`` by default, or ``Late()``), with the deployment's tags.

        Returns None if a run already has ``slot_key``: that slot was created by another
        scheduler (a slot never runs twice), or if ``schedule_id`` names a schedule that
        is gone (replaced since the scheduler read it). Manual runs have no slot key.
        """
        from kernel_ext.store import _deployment_runs

        return self._write(
            _deployment_runs.create_scheduled_run,
            id=id,
            deployment_id=deployment_id,
            deployment_version=deployment_version,
            name=name,
            flow_name=flow_name,
            parameters=parameters,
            scheduled_time=scheduled_time,
            schedule_id=schedule_id,
            slot_key=slot_key,
            state=Scheduled() if state is None else state,
        )

    def claim_next_run(
        self,
        worker_id: str,
        now: float,
        deployment_limits: bool = True,
        lease_seconds: float = LEASE_SECONDS,
        only: Sequence[str] | None = None,
    ) -> FlowRunRecord | None:
        """Atomically take the oldest run due at ``now``: it becomes Pending, held by
        ``worker_id``. None if no run is due (or every due deployment is paused or at its
        concurrency limit; ``deployment_limits=False`` ignores the limits). A limited
        deployment's slot is leased to the run for ``lease_seconds`` past each beat.
        ``only`` names the deployments whose runs may be taken (a served flow's).
        """
        from kernel_ext.store import _claims

        return self._write(
            _claims.claim_next_run, worker_id, now, deployment_limits, lease_seconds, only
        )

    def heartbeat(
        self,
        run_id: FlowRunId,
        worker_id: str,
        now: float,
        lease_seconds: float = LEASE_SECONDS,
    ) -> bool:
        """Beat the run's heartbeat; False if it is not this worker's or already final."""
        from kernel_ext.store import _claims

        return self._write(_claims.heartbeat, run_id, worker_id, now, lease_seconds)

    def find_dead_runs(self, now: float, grace_seconds: float) -> list[FlowRunRecord]:
        """Deployment runs Pending, Running or Cancelling whose worker has not beaten for
        ``grace_seconds``."""
        from kernel_ext.store import _claims

        return self._read(_claims.find_dead_runs, now, grace_seconds)

    def set_run_state(
        self,
        run_id: FlowRunId,
        state: State,
        *,
        only_from: Collection[StateType] | None = None,
        attempt: tuple[str, int] | None = None,
        due: float | None = None,
    ) -> FlowRunRecord:
        """Move a flow run to ``state`` and append it to the history, in one transaction;
        the state's time is the change's.

        A final type sets ``end_time``; RUNNING starts an attempt (``start_time`` if
        unset, ``run_count`` + 1). With ``only_from`` (state types), a run in another
        state is left as it is, e.g. so a run that finished meanwhile is not marked
        Crashed; with ``attempt`` (worker id, run count), a run that another attempt has
        taken over is left as it is; ``due`` sets when a Scheduled run may be claimed.
        Returns the run.
        """
        from kernel_ext.store import _deployment_runs

        return self._write(_deployment_runs.set_run_state, run_id, state, only_from, attempt, due)

    def set_output_notebook(self, run_id: FlowRunId, path: str) -> FlowRunRecord:
        """Link the run to its executed notebook."""
        from kernel_ext.store import _deployment_runs

        return self._write(_deployment_runs.set_output_notebook, run_id, path)

    def delete_flow_run(self, run_id: FlowRunId) -> DeletedRun:
        """Delete a finished flow run with its task runs, subflows, states, logs, result
        index entries and input requests, in one transaction; ``RunStateConflict`` if it
        has not finished (cancel it first). The output notebook's file is the caller's to
        remove (its path is in the returned run)."""
        from kernel_ext.store import _run_admin

        return self._write(_run_admin.delete_flow_run, run_id)

    def retry_flow_run(self, run_id: FlowRunId) -> FlowRunRecord:
        """Queue a deployment run that failed, crashed or was cancelled again, due now,
        with the same id (AwaitingRetry); ``RunStateConflict`` for any other run."""
        from kernel_ext.store import _run_admin

        return self._write(_run_admin.retry_flow_run, run_id)

    def request_cancel(self, run_id: FlowRunId) -> FlowRunRecord:
        """Cancel a run: a Scheduled or Suspended one is Cancelled at once; a running one
        becomes Cancelling, and its worker, which polls the state, stops the kernel and
        records Cancelled. A finished run raises ``RunStateConflict``."""
        from kernel_ext.store import _deployment_runs

        return self._write(_deployment_runs.request_cancel, run_id)
