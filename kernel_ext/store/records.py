"""The records the store's reads return: JSON-able dicts, typed.

Every read returns plain dicts (so the REST handlers and ``--json`` dump them as they
are), and each kind of dict has its shape here, so a type checker and a reader can follow
a store call to its fields. Times are ISO-8601 strings in UTC, durations are seconds.
A run's ``state`` is its state *name* ("Cached"); ``state_type`` is the ``StateType``
(a ``str`` enum, so it compares and serialises as "COMPLETED").

    RunRecord                   what flow and task runs share
    ├── FlowRunRecord           a flow run, with its deployment's fields (None outside
    │   │                       deployments)
    │   └── FlowRunDetail       one flow run read by id: with its task runs and failure
    └── TaskRunRecord           a task run
        └── TaskRunDetail       one task run read by id: with its failure
    DeletedRun                  a deleted flow run, with how many of its records went
    StateRecord                 one entry of a run's history
    LogRecord                   one log line
    ResultRecord                a result index entry (a cache hit)
    InputRequestRecord          the form a paused run waits on, with its run's state
    DeploymentRecord            a deployment's settings
    ├── PromotedDeployment      what promoting returns: the new (or unchanged) version
    ├── DeploymentDetail        one deployment with its versions and schedules
    ├── DeploymentSummary       one line of the list, with its last and next run
    └── DeletedDeployment       a deployment as it was, with how many runs went with it
    VersionRecord               a version of a deployment (``NotebookVersion``: with its
                                notebook text)
    ScheduleRecord              a schedule of a deployment
    ScheduleEntry               a schedule as ``replace_schedules`` takes it (not a read)
    ReplacedSchedules           a deployment's schedules once replaced, and what changed
    LimitRecord                 a concurrency or rate limit and its use now
    └── LimitDetail             one limit read by name: with its leases
    LeaseRecord                 slots of a limit held by one holder until it expires
    ArtifactRecord              an artifact of a run (or of no run)
    SecretRecord                a secret's name and times, never its value
    └── StoredSecret            with its ciphertext (a Fernet token), to decrypt
    VariableRecord              a variable: its JSON value and tags
    StoreMetrics                the aggregates a metrics scrape reads (``read_metrics``)
    ├── RunCount                how many runs are in one state type (and deployment)
    ├── DurationBuckets         the durations of the window's runs, as cumulative buckets
    ├── QueueRecord             a deployment's due runs, Late ones and the oldest's wait
    └── WorkerRecord            a busy worker: its runs and the age of its latest beat
    WriterLag                   what this process's store writer has not committed yet
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, TypedDict

from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext._states import StateType

__all__ = [
    "DEPLOYMENT_LIMIT_PREFIX",
    "LEASE_SECONDS",
    "DeletedDeployment",
    "DeletedRun",
    "DeploymentDetail",
    "DeploymentRecord",
    "DeploymentSummary",
    "DurationBuckets",
    "FailureRecord",
    "FlowRunDetail",
    "FlowRunId",
    "FlowRunRecord",
    "InputRequestRecord",
    "LastRun",
    "LeaseRecord",
    "LimitDetail",
    "LimitRecord",
    "LogRecord",
    "NotebookVersion",
    "PromotedDeployment",
    "QueueRecord",
    "ReplacedSchedules",
    "ResultRecord",
    "RunCount",
    "RunRecord",
    "ScheduleEntry",
    "ScheduleRecord",
    "SecretRecord",
    "StateRecord",
    "StoreMetrics",
    "StoredSecret",
    "TaskRunDetail",
    "TaskRunId",
    "TaskRunRecord",
    "VariableRecord",
    "VersionRecord",
    "WorkerRecord",
    "WriterLag",
]

# The last failure of a run that did not complete: ``message`` with the details of the
# state that failed it (``exception_type``, ``traceback``; for a deployment run
# ``cell_number``, ``output_notebook``, ...), whose keys depend on what failed.
FailureRecord = dict[str, Any]


class RunRecord(TypedDict):
    name: str
    state: str
    state_type: StateType
    state_message: str | None
    start_time: str | None
    end_time: str | None
    duration: float | None
    run_count: int
    tags: list[str]
    created: str | None


class TaskRunRecord(RunRecord):
    id: TaskRunId
    task_key: str
    flow_run_id: FlowRunId | None
    upstream: list[TaskRunId]
    cache_key: str | None


class TaskRunDetail(TaskRunRecord):
    failure: FailureRecord | None


class FlowRunRecord(RunRecord):
    id: FlowRunId
    flow_name: str
    parameters: dict[str, Any]
    parent_task_run_id: TaskRunId | None
    deployment_id: str | None
    deployment_name: str | None
    deployment_version: int | None
    schedule_id: str | None
    slot_key: str | None
    scheduled_time: str | None
    worker_id: str | None
    heartbeat_at: str | None
    output_notebook: str | None


class FlowRunDetail(FlowRunRecord):
    task_runs: list[TaskRunRecord]
    failure: FailureRecord | None
    # Where the next read of what changed starts (``read_flow_run(changed_after=)``), and
    # whether ``task_runs`` holds them all (False: only those that changed since then).
    task_runs_cursor: int
    task_runs_complete: bool


class DeletedRun(TypedDict):
    """A deleted flow run as it was, and how much went with it."""

    run: FlowRunRecord
    subflows: int
    task_runs: int
    states: int
    log_lines: int
    results: int
    input_requests: int
    artifacts: int


class StateRecord(TypedDict):
    type: StateType
    name: str
    timestamp: str | None
    message: str | None
    details: dict[str, Any] | None


class LogRecord(TypedDict):
    timestamp: str | None
    level: int
    level_name: str
    logger: str
    message: str
    flow_run_id: FlowRunId | None
    task_run_id: TaskRunId | None
    id: int  # the line's place in the store: a cursor for reading only newer lines


class ResultRecord(TypedDict):
    task_run_id: TaskRunId | None
    cache_key: str
    location: str
    created: str | None
    expiration: str | None


class InputRequestRecord(TypedDict):
    id: str
    flow_run_id: FlowRunId
    key: str
    schema: dict[str, Any]
    description: str | None
    status: str  # "pending", "answered", "rejected" or "expired"
    answer: dict[str, Any] | None
    answered_by: str | None
    answered_at: str | None
    error: str | None
    created: str | None
    timeout_at: str | None
    flow_run_name: str | None
    flow_name: str | None
    state: str | None
    state_type: StateType | None


class VersionRecord(TypedDict):
    id: str
    deployment_id: str
    version: int
    notebook_path: str
    notebook_sha256: str
    parameters: list[dict[str, Any]]
    created: str | None


class NotebookVersion(VersionRecord):
    notebook: str
    deployment_name: str


class ScheduleRecord(TypedDict):
    id: str
    deployment_id: str
    deployment_name: str
    deployment_paused: bool
    spec: dict[str, Any]
    parameters: dict[str, Any]
    active: bool
    catchup: str
    last_slot: str | None
    created: str | None


class ScheduleEntry(TypedDict):
    """One schedule of a deployment's new set: ``spec`` as the schedules module's
    ``to_dict()`` writes it, ``parameters`` over the deployment's defaults (validated by
    the caller), whether it is ``active``, and its ``catchup`` ("latest" or "all")."""

    spec: dict[str, Any]
    parameters: dict[str, Any]
    active: bool
    catchup: str


class ReplacedSchedules(TypedDict):
    """The deployment's ``schedules`` once replaced (oldest first), how many were
    ``kept`` (same spec and parameters), ``added`` and ``removed``, and how many runs of
    the removed ones that no worker had claimed yet went with them (``deleted_runs``)."""

    schedules: list[ScheduleRecord]
    kept: int
    added: int
    removed: int
    deleted_runs: int


class DeploymentRecord(TypedDict):
    id: str
    name: str
    created: str | None
    updated: str | None
    paused: bool
    concurrency_limit: int | None
    retries: int
    tags: list[str]
    description: str | None
    profile: str | None  # runs execute with TASKBOOK_PROFILE set to it


class PromotedDeployment(DeploymentRecord):
    version: VersionRecord
    unchanged: bool


class DeploymentDetail(DeploymentRecord):
    version: int | None
    versions: list[VersionRecord]
    schedules: list[ScheduleRecord]


class DeletedDeployment(DeploymentDetail):
    deleted_runs: int


class LastRun(TypedDict):
    last_run_id: FlowRunId | None
    last_run_name: str | None
    last_run_state: str | None
    last_run_state_type: StateType | None
    last_run_time: str | None


class DeploymentSummary(DeploymentRecord, LastRun):
    version: int | None
    schedules: list[ScheduleRecord]
    next_run_time: str | None


# A deployment's own concurrency limit is the limit named this prefix + the deployment's
# name ("deployment:nightly"); it follows the deployment's --concurrency.
DEPLOYMENT_LIMIT_PREFIX = "deployment:"

# How long a claimed run's slot outlives its last heartbeat (the workers' default).
LEASE_SECONDS = 30.0


class LimitRecord(TypedDict):
    name: str
    slots: int | None
    used: int
    holders: int
    per_second: float | None
    burst: int | None
    next_free_at: str | None
    created: str | None
    updated: str | None


class LeaseRecord(TypedDict):
    id: str
    slots: int
    holder: str
    acquired_at: str | None
    expires_at: str | None


class LimitDetail(LimitRecord):
    leases: list[LeaseRecord]


class ArtifactRecord(TypedDict):
    """An artifact: ``type`` is markdown, table, link, progress or image; ``data`` is the
    markdown text, the table (a list of rows, each a dict), the link as markdown, the
    progress (0-100) or the image's URL."""

    id: str
    key: str | None
    type: str
    data: Any
    description: str | None
    flow_run_id: FlowRunId | None
    task_run_id: TaskRunId | None
    created: str
    updated: str


class SecretRecord(TypedDict):
    """A secret as listed: what the CLI and the REST API show (no value, no ciphertext)."""

    name: str
    created: str | None
    updated: str | None


class StoredSecret(SecretRecord):
    ciphertext: str


class VariableRecord(TypedDict):
    """A variable: ``value`` is any JSON value (None for JSON null)."""

    name: str
    value: Any
    tags: list[str]
    created: str | None
    updated: str | None


class RunCount(TypedDict):
    state_type: StateType
    deployment: str | None  # the deployment's name; None for runs outside deployments
    count: int


class DurationBuckets(TypedDict):
    """The runs of one final state type (and deployment) that ended within the window:
    ``cumulative[i]`` took at most ``bounds[i]`` seconds, as Prometheus's buckets count;
    ``count`` and ``sum`` (seconds) cover them all."""

    state_type: StateType
    deployment: str | None
    bounds: list[float]
    cumulative: list[int]
    count: int
    sum: float


class QueueRecord(TypedDict):
    deployment: str
    due: int  # Scheduled runs due now that no worker has claimed (Late ones included)
    late: int
    oldest_due_age: float | None  # seconds since the oldest due run's scheduled time


class WorkerRecord(TypedDict):
    worker_id: str
    runs: int  # runs it holds: Pending, Running or Cancelling
    heartbeat_age: float | None  # seconds since its latest beat on any of them


class StoreMetrics(TypedDict):
    window: float  # seconds: finished runs and durations count within it
    unfinished_flow_runs: list[RunCount]
    ended_flow_runs: list[RunCount]  # ended within the window
    recent_task_runs: list[RunCount]  # created within the window, by their state now
    flow_run_durations: list[DurationBuckets]
    task_run_durations: list[DurationBuckets]
    queues: list[QueueRecord]
    workers: list[WorkerRecord]


class WriterLag(TypedDict):
    queued: int  # events queued or in the batch being written
    oldest_age: float | None  # seconds since the oldest of them happened; None: none wait


class AutomationRecord(TypedDict):
    """An automation as stored: its trigger and actions are JSON in Prefect's shape."""

    id: str
    name: str
    description: str | None
    enabled: bool
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]
    actions_on_trigger: list[dict[str, Any]]
    actions_on_resolve: list[dict[str, Any]]
    # The history id and event seq it reacts after (the streams' ends when it was made,
    # resumed or given a new trigger).
    state_from: int
    event_from: int
    created: str | None
    updated: str | None


class FiringRecord(TypedDict):
    """A firing of an automation: ``state`` is "pending" (its actions to run), "done" or
    "failed"; ``results`` says what each action did."""

    id: str
    automation_id: str
    firing_key: str
    fired: str | None
    triggering_event: dict[str, Any] | None
    firing: dict[str, Any] | None
    state: str
    attempts: int
    error: str | None
    results: list[Any] | None
    finished: str | None


class BucketRow(TypedDict):
    """An open window of a trigger, for events with one ``for_each`` key."""

    opened: datetime
    closes: datetime
    count: int
    last_event: dict[str, Any] | None
    state: dict[str, Any] | None


class NewFiring(TypedDict):
    automation_id: str
    firing_key: str
    fired: datetime
    triggering_event: dict[str, Any] | None
    firing: dict[str, Any] | None


class EventRow(NamedTuple):
    """An event as the store read it, and where: ``stream`` is "state" (a state change,
    read from the history: ``position`` is its history id) or "event" (a recorded event:
    ``position`` is its ``seq``). ``event`` is a ``kernel_ext.events.Event``."""

    stream: str
    position: int
    event: Any
