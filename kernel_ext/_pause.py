"""``pause_flow_run``: wait for a person, without deadlocking the kernel.

The pause stores an input request (the form) in the store and marks the flow run Paused.
The answer travels through the store: whoever answers (the inline form through the
Jupyter server, `taskbook runs resume` in a terminal, ``%approvals`` in another notebook)
writes it there, and the paused call polls for it. So a cell that blocks here does not
need its kernel to process widget messages. A run re-executed with the same flow run id
finds the earlier answer at the same key and returns it at once.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

from kernel_ext import _context
from kernel_ext import _states as states
from kernel_ext._context import FlowRunContext, current_flow_run
from kernel_ext._errors import Abort, InputValidationError, PauseError, PauseTimeout, Suspend
from kernel_ext._events import StateEvent, bus
from kernel_ext._run_records import new_id

if TYPE_CHECKING:
    from kernel_ext.store import Store
    from kernel_ext.store.records import InputRequestRecord

__all__ = [
    "apause_flow_run",
    "aresume_flow_run",
    "asuspend_flow_run",
    "pause_flow_run",
    "resume_flow_run",
    "suspend_flow_run",
]

_keys: dict[tuple[str, str], itertools.count[int]] = {}


def pause_flow_run(
    wait_for_input: Any = None,
    timeout: float = 3600,
    poll_interval: float = 0.5,
    key: str | None = None,
) -> Any:
    """Pause the current flow run until someone answers; returns the typed answer.

    ``wait_for_input`` is a ``RunInput`` subclass (or any pydantic model, or a bare type
    such as ``bool``); without it the form is Resume / Reject and the call returns None.
    A rejected run raises ``Abort`` (the run ends Cancelled); no answer within ``timeout``
    seconds raises ``PauseTimeout`` (the run fails).
    """
    context = current_flow_run()
    if context is None:
        raise PauseError(
            "pause_flow_run() pauses a flow run: call it inside a @flow, or in a %%task "
            "cell of a notebook with `%load_ext kernel_ext`."
        )
    from kernel_ext._run_input import form_for
    from kernel_ext.store import get_store

    form = form_for(wait_for_input)
    store = get_store()
    store.flush()  # the run's row must exist for those who list paused runs
    headless = _deployment_run()
    request = store.create_input_request(
        id=new_id(),
        # A headless run is executed again after the answer, with new ids for its inner
        # flows: the request belongs to the deployment run, which keeps its id.
        flow_run_id=headless.flow_run.id if headless else context.flow_run.id,
        key=key or _default_key(context, headless),
        schema=form.schema if form else {},
        description=form.description if form else None,
        timeout_at=time.time() + timeout,
    )
    if request["status"] == "pending" and headless is not None:
        _suspend(store, headless, request)
    if request["status"] == "pending":
        request = _wait(context, store, request, timeout, poll_interval)
    return _outcome(context, store, request, form)


def _default_key(context: FlowRunContext, root: FlowRunContext | None) -> str:
    """A key that names the same pause on every execution of a run: the cell's or task's
    run name (or the flow's name) and how many pauses it made before. A counter over the
    whole process would shift when a resumed run restores cells instead of running them."""
    from kernel_ext._context import task_run_context

    task_ctx = task_run_context.get()
    label = task_ctx.task_run.name if task_ctx is not None else context.flow_run.flow_name
    scope = (root or context).flow_run.id
    counter = _keys.setdefault((scope, label), itertools.count())
    return f"{label}.pause-{next(counter)}"


def _deployment_run() -> FlowRunContext | None:
    """The deployment run this kernel executes for a worker (no person is watching)."""
    from kernel_ext.deployment import attached_run_id

    ambient = _context.ambient_flow_run()
    if attached_run_id() and ambient is not None:
        return ambient
    return None


def _suspend(store: Store, run: FlowRunContext, request: InputRequestRecord) -> None:
    """Headless: record the run Suspended and stop; the worker re-executes it on answer."""
    from kernel_ext.approvals import answer_hint

    message = f"Suspended at {request['key']!r} until someone answers: {answer_hint(request)}"
    details = {"input_request_id": request["id"], "key": request["key"]}
    store.flush()
    store.set_run_state(run.flow_run.id, states.Suspended(message, details=details))
    if store.read_input_request(request["id"])["status"] != "pending":
        # Answered while we were suspending: nobody would wake the run now, so queue it.
        resuming = states.Scheduled("Answered", name="Resuming")
        store.set_run_state(run.flow_run.id, resuming, only_from=(states.StateType.PAUSED,))
    raise Suspend(message)


def _wait(
    context: FlowRunContext,
    store: Any,
    request: InputRequestRecord,
    timeout: float,
    poll_interval: float,
) -> InputRequestRecord:
    details = {"input_request_id": request["id"], "key": request["key"], "timeout": timeout}
    _set_state(context, states.Paused(f"Waiting for input {request['key']!r}", details=details))
    store.flush()
    from kernel_ext._display import show_approval_form

    form = show_approval_form(request)
    deadline = time.monotonic() + timeout
    while request["status"] == "pending":
        if time.monotonic() >= deadline:
            request = store.expire_input_request(request["id"])
            if request["status"] == "expired":
                _refresh(form, request)
                _set_state(context, states.Running(f"Input {request['key']!r} expired"))
                raise PauseTimeout(
                    f"No answer to {request['key']!r} within {timeout:g} s; the request "
                    "expired and the run failed. Pause with a longer timeout= to wait longer."
                )
            break
        time.sleep(poll_interval)
        request = store.read_input_request(request["id"])
        _refresh(form, request)
    return request


def _outcome(context: FlowRunContext, store: Store, request: InputRequestRecord, form: Any) -> Any:
    by = request.get("answered_by") or "someone"
    if request["status"] in ("rejected", "expired"):
        _set_state(context, states.Running(f"Input {request['key']!r} {request['status']}"))
    if request["status"] == "rejected":
        reason = (request.get("answer") or {}).get("reason")
        raise Abort(f"Rejected by {by}" + (f": {reason}" if reason else ""))
    if request["status"] == "expired":
        raise PauseTimeout(f"The input request {request['key']!r} expired before an answer.")
    facts = {k: request.get(k) for k in ("answered_by", "answered_at", "answer")}
    details = {"input_request_id": request["id"], "key": request["key"], **facts}
    _set_state(context, states.Running(f"Resumed by {by}", details=details))
    if form is None:
        return None
    import pydantic

    try:
        return form.parse(request["answer"] or {})
    except pydantic.ValidationError as error:
        raise InputValidationError(
            f"The answer stored for {request['key']!r} does not fit the form: {error}"
        ) from None


def _set_state(context: FlowRunContext, state: states.State) -> None:
    run = context.flow_run
    run.state = state
    bus.emit(StateEvent(run, state))


def _refresh(form: Any, request: InputRequestRecord) -> None:
    if form is not None:
        form.refresh(request)


async def apause_flow_run(
    wait_for_input: Any = None,
    timeout: float = 3600,
    poll_interval: float = 0.5,
    key: str | None = None,
) -> Any:
    """``pause_flow_run`` for async flows: the wait does not block the event loop."""
    import asyncio
    import contextvars

    context = contextvars.copy_context()
    return await asyncio.to_thread(
        context.run, pause_flow_run, wait_for_input, timeout, poll_interval, key
    )


def suspend_flow_run(
    wait_for_input: Any = None,
    flow_run_id: str | None = None,
    timeout: float | None = 3600,
    key: str | None = None,
) -> Any:
    """Prefect's ``suspend_flow_run``: in a deployment run the run is Suspended (its
    kernel stops, and the run executes again once answered), which is what
    ``pause_flow_run`` does there; interactively, a kernel cannot be given up, so the
    run waits as a pause does. Suspending another run is not supported."""
    if flow_run_id is not None:
        current = current_flow_run()
        if current is None or current.flow_run.id != flow_run_id:
            raise PauseError(
                "suspend_flow_run(flow_run_id=...) can only suspend the current run; cancel "
                "the other run with `taskbook runs cancel` instead."
            )
    return pause_flow_run(wait_for_input, timeout=timeout or 3600, key=key)


async def asuspend_flow_run(
    wait_for_input: Any = None,
    flow_run_id: str | None = None,
    timeout: float | None = 3600,
    key: str | None = None,
) -> Any:
    return await apause_flow_run(wait_for_input, timeout or 3600, 0.5, key)


def resume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None) -> None:
    """Answer a Paused or Suspended run, as Prefect's ``resume_flow_run``: ``run_input``
    holds the form's fields (none for a plain Resume / Reject pause)."""
    from kernel_ext.approvals import answer

    answer(str(flow_run_id), run_input if run_input is not None else {})


async def aresume_flow_run(flow_run_id: str, run_input: dict[str, Any] | None = None) -> None:
    import asyncio

    await asyncio.to_thread(resume_flow_run, flow_run_id, run_input)
