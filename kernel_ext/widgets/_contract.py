"""The messages between the kernel and the widgets' JavaScript, as typed dicts.

The TypeScript side mirrors these in ``labextension/widgets/contract.ts``; change both
together. Everything here is JSON: times are epoch seconds or ISO-8601 strings as noted,
durations are seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from kernel_ext.store.records import LogRecord, StateRecord

__all__ = [
    "AnswerMessage",
    "ArtifactSummary",
    "DetailsMessage",
    "DetailsReply",
    "FlowRunSummary",
    "GraphNode",
    "GraphPayload",
    "InputRequest",
    "RejectMessage",
    "ResultReply",
    "RunDetails",
]


class FlowRunSummary(TypedDict):
    id: str
    name: str
    flow_name: str
    state: str  # state name, e.g. "Cached"
    state_type: str  # state type, e.g. "COMPLETED"
    message: str | None
    duration: float | None


class GraphNode(TypedDict):
    """A task run, or a group of runs of one task (``kind == "group"``) drawn as one box."""

    id: str  # the task run id, or "group:<task_key>"
    kind: Literal["run", "group"]
    name: str  # the run's name, or the task's name for a group
    task_key: str
    state: str
    state_type: str
    message: str | None
    duration: float | None
    run_count: int  # attempts; for a group, the most any member took
    count: int  # runs in the node: 1, or the group's size
    done: int  # runs in a final state
    counts: dict[str, int]  # runs per state name
    members: list[str]  # a group's first runs, failed ones first (for the side panel)


class GraphPayload(TypedDict):
    """The ``graph`` trait of ``RunGraph``: one flow run, already aggregated."""

    run: FlowRunSummary | None  # None until the followed flow run has started
    nodes: list[GraphNode]
    edges: list[tuple[str, str]]  # (upstream node id, downstream node id)
    task_runs: int  # task runs in the flow run, before grouping
    hidden: int  # nodes left out to keep the drawing small
    final: bool  # the flow run is final: no more updates will come


class DetailsMessage(TypedDict):
    """Browser -> kernel: send me the details of this task run."""

    type: Literal["details"]
    task_run_id: str


class ArtifactSummary(TypedDict):
    """An artifact in the side panel: the store's ``ArtifactRecord`` (spelled out here,
    so the contract imports no store module), its data clipped."""

    id: str
    key: str | None
    type: str  # markdown, table, progress or image
    data: Any  # markdown text, a table (Prefect's three shapes), 0-100, an image URL
    description: str | None
    flow_run_id: str | None
    task_run_id: str | None
    created: str  # ISO-8601
    updated: str  # ISO-8601
    omitted: int  # table rows, or characters, left out of ``data`` (0: it is whole)


class RunDetails(TypedDict):
    run: dict[str, Any]  # the store's task run record (without its failure)
    history: list[StateRecord]  # the store's state history records
    logs: list[LogRecord]  # the store's log records (the last ones)
    logs_omitted: int
    artifacts: list[ArtifactSummary]  # the task run's newest artifacts, oldest first
    more_artifacts: bool  # it has older ones (its run's page lists them all)
    upstream: list[dict[str, str]]  # {"id", "name"} of the runs that fed this one
    upstream_omitted: int
    result: str | None  # where the result is persisted, if it is
    error: dict[str, str] | None  # {"exception_type", "message", "traceback"} of a failure


class DetailsReply(TypedDict):
    """Kernel -> browser: the answer to a ``DetailsMessage``."""

    type: Literal["details"]
    task_run_id: str
    details: RunDetails | None
    error: str | None


class InputRequest(TypedDict):
    """The ``request`` trait of ``ApprovalForm``: one pause waiting for an answer."""

    id: str
    flow_run_id: str
    flow_run_name: str
    key: str
    description: str  # Markdown
    schema: dict[str, Any]  # a pydantic JSON schema; {} means plain Resume/Reject
    status: Literal["pending", "answered", "rejected", "expired"]
    error: str | None
    answer: Any
    answered_by: str | None
    answered_at: str | None  # ISO-8601
    flow_name: str | None
    timeout_at: str | None  # ISO-8601: when a pending request expires


class AnswerMessage(TypedDict):
    """Browser -> kernel, when the server's REST endpoint cannot be reached."""

    type: Literal["answer"]
    answer: dict[str, Any]


class RejectMessage(TypedDict):
    type: Literal["reject"]
    reason: str | None


class ResultReply(TypedDict):
    """Kernel -> browser: how an ``AnswerMessage`` or ``RejectMessage`` was taken."""

    type: Literal["result"]
    action: Literal["answer", "reject"]
    error: str | None
