"""Running the actions of a firing: notify, run or pause a deployment, cancel a run.

    results = act(automation, firing)        # one result per action, in order
    results = act(automation, firing, previous=results)   # again: only those that failed

Each action does its work through Taskbook's own paths (``start_run``, the store's pause,
cancel and answer) and returns a short text saying what it did, or raises a
``TaskbookError`` saying why not; ``act`` records either, so one failing action does not
stop the others, and running the firing again retries only the failed ones. Starting a
deployment run is idempotent: its run id derives from the firing, so a retry after a
crash finds the run it started.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from kernel_ext._errors import RunNotFound, RunStateConflict, TaskbookError
from kernel_ext.automations import (
    Action,
    Automation,
    CancelFlowRun,
    DeploymentAction,
    DoNothing,
    PauseAutomation,
    PauseDeployment,
    ResumeAutomation,
    ResumeDeployment,
    ResumeFlowRun,
    RunDeployment,
    SendNotification,
    SuspendFlowRun,
)
from kernel_ext.events import Event
from papermill_bridge.automations._context import ActionContext
from papermill_bridge.automations._failures import ActionFailed
from papermill_bridge.automations._firings import Firing
from papermill_bridge.automations._templates import render_parameters, render_text

__all__ = ["ActionContext", "ActionFailed", "ActionResult", "ActionsFailed", "act", "run_action"]

# Derives a run-deployment action's run id from its firing (uuid5).
_RUN_IDS = uuid.UUID("5d0c5a52-57b4-4b8e-9d8e-2a3f4c1b7e10")
SUSPEND_TIMEOUT = 3600.0  # Prefect's default for a suspended run's answer


class ActionResult(TypedDict):
    """What one action of a firing did: ``result`` if it was done, else ``error``."""

    index: int
    type: str
    ok: bool
    result: str | None
    error: str | None


class ActionsFailed(ActionFailed):
    """Raised by ``act`` when some of a firing's actions failed; ``results`` says what
    each action did, to be kept with the firing so that a retry runs only the failed."""

    def __init__(self, message: str, results: Sequence[ActionResult] = ()) -> None:
        super().__init__(message)
        self.results = list(results)

    @classmethod
    def of(cls, results: list[ActionResult]) -> ActionsFailed:
        failed = [r for r in results if not r["ok"]]
        reasons = "; ".join(f"{r['type']} (action {r['index'] + 1}): {r['error']}" for r in failed)
        return cls(f"{len(failed)} of {len(results)} actions failed: {reasons}", results)


def act(
    automation: Automation | Mapping[str, Any],
    firing: Firing | Mapping[str, Any],
    previous: Sequence[Mapping[str, Any]] | None = None,
) -> list[ActionResult]:
    """Run the firing's actions (the automation's ``actions``, then its
    ``actions_on_trigger``): their results, or ``ActionsFailed`` holding them when some
    failed. The actions a ``previous`` attempt did are not done again; given the store's
    records (an automation and a firing), those are the firing's ``results``."""
    if isinstance(firing, Mapping):
        previous = previous if previous is not None else firing.get("results")
        firing = Firing.from_record(firing["firing"])
    if isinstance(automation, Mapping):
        automation = Automation.from_record(automation)
    done = {int(r["index"]): r for r in previous or () if r.get("ok")}
    context = ActionContext(automation, firing)
    results: list[ActionResult] = []
    for index, action in enumerate([*automation.actions, *automation.actions_on_trigger]):
        kept = done.get(index)
        if kept is not None and kept.get("type") == action.type:
            results.append(_kept(kept))
            continue
        results.append(_attempt(index, action, context))
    if not all(result["ok"] for result in results):
        raise ActionsFailed.of(results)
    return results


def run_action(action: Action, context: ActionContext, index: int = 0) -> str:
    """Do one action; a short text of what was done, or a ``TaskbookError``."""
    for kind, handler in _HANDLERS.items():
        if isinstance(action, kind):
            return handler(action, context, index)
    raise ActionFailed(f"Taskbook cannot run {action.type!r} actions.")


def _attempt(index: int, action: Action, context: ActionContext) -> ActionResult:
    try:
        text = run_action(action, context, index)
    except TaskbookError as error:
        return ActionResult(index=index, type=action.type, ok=False, result=None, error=str(error))
    except Exception as error:  # a store blip, a bad template value: this action failed,
        # and is recorded so; the ones that succeeded are not done again on the retry
        reason = f"{type(error).__name__}: {error}"
        return ActionResult(index=index, type=action.type, ok=False, result=None, error=reason)
    return ActionResult(index=index, type=action.type, ok=True, result=text, error=None)


def _kept(result: Mapping[str, Any]) -> ActionResult:
    return ActionResult(
        index=int(result["index"]),
        type=str(result["type"]),
        ok=True,
        result=result.get("result"),
        error=None,
    )


# -- the actions --------------------------------------------------------------------------


def _do_nothing(action: DoNothing, context: ActionContext, index: int) -> str:
    return "Did nothing."


def _send_notification(action: SendNotification, context: ActionContext, index: int) -> str:
    from papermill_bridge.automations._notify import notify  # Apprise loads on use

    values = context.template_context()
    url = _destination(action, values)
    subject = render_text(action.subject, values)
    body = render_text(action.body, values)
    return notify(url, subject, body)


def _destination(action: SendNotification, values: Mapping[str, Any]) -> str:
    if action.url:
        url = render_text(action.url, values).strip()
        if not url:
            raise ActionFailed(
                f"The notification URL {action.url!r} renders empty for this firing; give "
                "the URL itself, or a template of what every firing has."
            )
        return url
    from kernel_ext.secrets import Secret

    assert action.secret is not None  # the model requires one of them
    value = Secret.load(action.secret).get()
    if not isinstance(value, str) or not value.strip():
        raise ActionFailed(
            f"The secret {action.secret!r} does not hold an Apprise URL (text such as "
            "`slack://...`); save one with `taskbook secrets set`."
        )
    return value.strip()


def _run_deployment(action: RunDeployment, context: ActionContext, index: int) -> str:
    from kernel_ext._run_records import FlowRunId
    from kernel_ext.store import get_store
    from papermill_bridge import start_run

    name = _deployment_of(action, context)["name"]
    run_id = FlowRunId(str(uuid.uuid5(_RUN_IDS, f"{context.firing.firing_key}:{index}")))
    try:
        run: Mapping[str, Any] = get_store().read_flow_run(run_id)
        return f"Run {run['name']} ({run_id[:8]}) of {name} was started already."
    except RunNotFound:
        pass
    parameters = None
    if action.parameters is not None:
        parameters = render_parameters(action.parameters, context.template_context())
    delay = action.schedule_after.total_seconds()
    run = start_run(
        name,
        parameters,
        when=time.time() + delay if delay else None,
        message=f"Started by automation {context.automation.name!r}",
        run_id=run_id,
    )
    text = f"Started run {run['name']} ({run_id[:8]}) of {name}."
    if action.job_variables:
        text += " Its job_variables were ignored: a deployment runs as deployed."
    return text


def _set_paused(paused: bool) -> Callable[[DeploymentAction, ActionContext, int], str]:
    def handler(action: DeploymentAction, context: ActionContext, index: int) -> str:
        from kernel_ext.store import get_store

        deployment = _deployment_of(action, context)
        get_store().set_deployment_paused(deployment["id"], paused)
        return f"{'Paused' if paused else 'Resumed'} deployment {deployment['name']}."

    return handler


def _cancel_flow_run(action: CancelFlowRun, context: ActionContext, index: int) -> str:
    from kernel_ext.store import get_store

    run = _flow_run_of(action, context)
    cancelled = get_store().request_cancel(run["id"])
    return f"Run {run['name']} ({run['id'][:8]}) is {cancelled['state']}."


def _suspend_flow_run(action: SuspendFlowRun, context: ActionContext, index: int) -> str:
    """A run that has not started yet is Suspended until someone resumes it (``taskbook
    runs resume``), as a suspended run is; a running one cannot be from outside."""
    from kernel_ext._states import StateType, Suspended
    from kernel_ext.store import get_store

    run = _flow_run_of(action, context)
    if run["state_type"] != StateType.SCHEDULED:
        raise RunStateConflict(
            f"Run {run['name']} ({run['id'][:8]}) is {run['state']}: only a run that has "
            "not started can be suspended from outside (a running flow suspends itself "
            "with suspend_flow_run()); cancel it with a cancel-flow-run action instead.",
            run_id=run["id"],
            state=run["state"],
        )
    store = get_store()
    request = store.create_input_request(
        id=str(uuid.uuid4()),
        flow_run_id=run["id"],
        key=f"automation-{context.automation.id}",
        schema={"type": "object", "properties": {}},
        description=f"Suspended by automation {context.automation.name!r}",
        timeout_at=time.time() + SUSPEND_TIMEOUT,
    )
    details = {"input_request_id": request["id"], "key": request["key"]}
    message = f"Suspended by automation {context.automation.name!r}"
    suspended = store.set_run_state(
        run["id"], Suspended(message, details=details), only_from=(StateType.SCHEDULED,)
    )
    if suspended["state"] != "Suspended":
        raise RunStateConflict(
            f"Run {run['name']} ({run['id'][:8]}) started meanwhile; it is {suspended['state']}.",
            run_id=run["id"],
            state=suspended["state"],
        )
    return f"Suspended run {run['name']} ({run['id'][:8]}); `taskbook runs resume` resumes it."


def _resume_flow_run(action: ResumeFlowRun, context: ActionContext, index: int) -> str:
    from kernel_ext import approvals

    run = _flow_run_of(action, context)
    approvals.answer(run["id"], {}, answered_by=f"automation {context.automation.name}")
    return f"Resumed run {run['name']} ({run['id'][:8]})."


def _set_enabled(
    enabled: bool,
) -> Callable[[PauseAutomation | ResumeAutomation, ActionContext, int], str]:
    def handler(
        action: PauseAutomation | ResumeAutomation, context: ActionContext, index: int
    ) -> str:
        from kernel_ext.store import get_store

        target = action.automation_id or context.automation.id
        record = get_store().set_automation_enabled(str(target), enabled)
        return f"{'Resumed' if enabled else 'Paused'} automation {record['name']}."

    return handler


def _deployment_of(action: DeploymentAction, context: ActionContext) -> dict[str, Any]:
    from kernel_ext.store import get_store

    if action.source == "selected":
        return dict(get_store().read_deployment(str(action.deployment_id or action.deployment)))
    found = context.deployment()
    if found is None:
        raise ActionFailed(
            f"No deployment could be inferred from the event "
            f"{_describe(context.event)}: it names none and is not about a deployment run; "
            "select one with `deployment: NAME`."
        )
    return found


def _flow_run_of(action: Action, context: ActionContext) -> dict[str, Any]:
    run = context.flow_run()
    if run is None:
        raise ActionFailed(
            f"No flow run could be inferred from the event {_describe(context.event)}: "
            f"a {action.type} action needs a trigger on flow-run events "
            "(prefect.flow-run.*) or events related to a run."
        )
    return run


def _describe(event: Event | None) -> str:
    return "(none: the trigger fired on an absence)" if event is None else repr(event.event)


_HANDLERS: dict[type[Action], Callable[[Any, ActionContext, int], str]] = {
    DoNothing: _do_nothing,
    SendNotification: _send_notification,
    RunDeployment: _run_deployment,
    PauseDeployment: _set_paused(True),
    ResumeDeployment: _set_paused(False),
    CancelFlowRun: _cancel_flow_run,
    SuspendFlowRun: _suspend_flow_run,
    ResumeFlowRun: _resume_flow_run,
    PauseAutomation: _set_enabled(False),
    ResumeAutomation: _set_enabled(True),
}
