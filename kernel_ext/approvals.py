"""Answering paused runs from anywhere: the CLI, the Jupyter server, another notebook.

A paused run stores an *input request* (its form as a JSON schema) and polls the store
for the answer, so an answer given in any process resumes it. Answers are validated
against the form here, before they are stored, so a wrong answer is refused with the
list of problems instead of reaching the run.

    from kernel_ext import approvals
    approvals.pending()                              # what is waiting for a person
    approvals.answer(run_id, {"approved": True})     # resume it
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernel_ext._errors import InputNotFound, InputValidationError
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Cancelled, Scheduled, State, StateType
from kernel_ext.store import get_store

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import InputRequestRecord

__all__ = [
    "answer",
    "answer_hint",
    "current_user",
    "expire_overdue",
    "pending",
    "reject",
    "resolve",
]


def current_user() -> str:
    """Who is answering from this process, e.g. ``ada@laptop``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def pending(flow_run_id: str | None = None) -> list[InputRequestRecord]:
    """Input requests still waiting for an answer, newest first."""
    run_id = None if flow_run_id is None else FlowRunId(flow_run_id)
    return get_store().list_input_requests(status="pending", flow_run_id=run_id)


def resolve(identifier: str, key: str | None = None) -> InputRequestRecord:
    """The input request named by its id, or by (a prefix of) its paused flow run's id."""
    store = get_store()
    try:
        found = store.read_input_request(identifier)
        return found
    except InputNotFound:
        pass
    matches = [
        r
        for r in store.list_input_requests(status="pending")
        if r["flow_run_id"].startswith(identifier) and (key is None or r["key"] == key)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        _refuse_settled(store, identifier, key)
        raise InputNotFound(
            f"No paused run or input request matches {identifier!r}"
            f"{f' with key {key!r}' if key else ''}; see `taskbook approvals ls`."
        )
    keys = ", ".join(sorted(r["key"] for r in matches))
    raise InputNotFound(
        f"{len(matches)} requests match {identifier!r} (keys: {keys}); pass --key or the "
        "request id."
    )


def _refuse_settled(store: Store, identifier: str, key: str | None) -> None:
    """A run whose pause was answered, rejected or expired already: say so."""
    from kernel_ext._errors import InputAlreadyAnswered

    settled = [
        r
        for r in store.list_input_requests(status=None)
        if r["flow_run_id"].startswith(identifier) and (key is None or r["key"] == key)
    ]
    if settled:
        last = settled[0]
        by = f" by {last['answered_by']}" if last.get("answered_by") else ""
        raise InputAlreadyAnswered(
            f"Run {identifier} is not waiting for an answer: its request {last['key']!r} "
            f"was {last['status']}{by}."
        )


def answer(
    identifier: str, value: Any, answered_by: str | None = None, key: str | None = None
) -> InputRequestRecord:
    """Answer a paused run; ``value`` is a dict of the form's fields (or a bare value)."""
    request = resolve(identifier, key)
    data = _as_fields(request["schema"], value)
    problems = validation_problems(request["schema"], data)
    if problems:
        get_store().record_input_error(request["id"], problems)
        raise InputValidationError(f"The answer does not fit the form: {problems}")
    answered = _settled_in_time(
        request,
        lambda: get_store().answer_input_request(
            request["id"], data, answered_by or current_user()
        ),
    )
    _wake_suspended(answered, Scheduled(f"Answered by {answered['answered_by']}", name="Resuming"))
    return answered


def reject(
    identifier: str,
    reason: str | None = None,
    answered_by: str | None = None,
    key: str | None = None,
) -> InputRequestRecord:
    """Reject a paused run: it ends Cancelled, with the reason in its history."""
    request = resolve(identifier, key)
    rejected = _settled_in_time(
        request,
        lambda: get_store().reject_input_request(
            request["id"], answered_by or current_user(), reason
        ),
    )
    why = f"Rejected by {rejected['answered_by']}" + (f": {reason}" if reason else "")
    _wake_suspended(rejected, Cancelled(why))
    return rejected


def expire_overdue(now: float) -> list[InputRequestRecord]:
    """Expire the pending requests whose timeout has passed, and fail the Suspended runs
    that waited on them (a headless run has no kernel to notice); returns them. The
    scheduler calls this every tick."""
    store = get_store()
    expired = []
    for request in store.list_overdue_input_requests(now):
        record = store.expire_pause(request["id"])
        if record["status"] == "expired":
            expired.append(record)
    return expired


def _settled_in_time(
    request: InputRequestRecord, settle: Callable[[], InputRequestRecord]
) -> InputRequestRecord:
    """``settle()``; when the request turns out to be past its timeout, its Suspended run
    fails at once, before the refusal reaches the one who answered late."""
    from kernel_ext._errors import InputAlreadyAnswered

    try:
        settled = settle()
    except InputAlreadyAnswered:
        if get_store().read_input_request(request["id"])["status"] in ("pending", "expired"):
            get_store().expire_pause(request["id"])  # refused for being overdue
        raise
    return settled


def _wake_suspended(request: InputRequestRecord, state: State) -> None:
    """A Suspended (headless) run has no kernel waiting: queue it again, or end it.

    A Paused run (a kernel is polling for the answer) is left to its kernel.
    """
    from kernel_ext._errors import RunNotFound

    store = get_store()
    try:
        run = store.read_flow_run(request["flow_run_id"])
    except RunNotFound:
        return
    if run["state"] == "Suspended":
        store.set_run_state(run["id"], state, only_from=(StateType.PAUSED,))


def _as_fields(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """Bare-type forms have one field, ``value``: accept the bare value too."""
    fields = schema.get("properties", {})
    text_form = set(fields) == {"value"} and fields["value"].get("type") == "string"
    if isinstance(value, str) and not text_form:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise InputValidationError(
                f"The answer is not JSON ({error.msg} at position {error.pos}); quote "
                """it like '{"approved": true}'."""
            ) from None
    if set(fields) == {"value"} and not (isinstance(value, dict) and set(value) == {"value"}):
        return {"value": value}
    if value is None and not fields:
        return {}
    if value is None:
        raise InputValidationError(
            f"This pause asks for {', '.join(fields)}: give them with "
            f"--input '{json.dumps(example_answer(schema))}' (or reject it)."
        )
    if not isinstance(value, dict):
        raise InputValidationError(
            f"The answer must be a JSON object with the fields {sorted(fields)}, "
            f"got {type(value).__name__}."
        )
    return value


_SAMPLES: dict[str, Any] = {
    "boolean": True,
    "string": "",
    "integer": 0,
    "number": 0,
    "array": [],
    "object": {},
}


def example_answer(schema: dict[str, Any]) -> dict[str, Any]:
    """An answer of the right shape, to show how to give one: defaults where there are."""
    return {name: _sample(schema, spec) for name, spec in schema.get("properties", {}).items()}


def _sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):  # pydantic's enums and models
        spec = {**schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}), **spec}
    if "default" in spec:
        return spec["default"]
    if "const" in spec:
        return spec["const"]
    if spec.get("enum"):
        return spec["enum"][0]
    for choice in spec.get("anyOf") or spec.get("oneOf") or ():
        if isinstance(choice, dict) and choice.get("type") != "null":
            return _sample(schema, choice)
    kind = spec.get("type", "string")
    if isinstance(kind, list):  # e.g. ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    return _SAMPLES.get(kind, "") if isinstance(kind, str) else ""


def answer_hint(request: InputRequestRecord, with_key: bool = False) -> str:
    """The command that answers ``request``, with an answer of the right shape (and its
    key, for a run that waits at several pauses)."""
    import shlex

    command = f"taskbook runs resume {request['flow_run_id'][:8]}"
    if with_key:
        command += f" --key {shlex.quote(request['key'])}"
    if not request.get("schema", {}).get("properties"):
        return command
    return f"{command} --input {shlex.quote(json.dumps(example_answer(request['schema'])))}"


def validation_problems(schema: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The problems of ``data`` against the form's JSON schema, as one line, or None."""
    if not schema:
        return None
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    return "; ".join(
        f"{'.'.join(str(p) for p in e.absolute_path) or 'answer'}: {e.message}" for e in errors
    )
