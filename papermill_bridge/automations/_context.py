"""What an action acts on: the flow run and the deployment the triggering event is
about (read from the store once per firing), and the values its templates see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from kernel_ext._errors import RunNotFound
from kernel_ext.automations import Automation
from kernel_ext.events import Event
from papermill_bridge.automations._firings import Firing

__all__ = ["ActionContext"]


@dataclass
class ActionContext:
    """What an action acts on: the firing, and what its event is about (read once)."""

    automation: Automation
    firing: Firing
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> Event | None:
        return self.firing.triggering_event

    def flow_run(self) -> dict[str, Any] | None:
        """The flow run the event is about (its resource or a related one), if any."""
        if "flow_run" not in self._cache:
            self._cache["flow_run"] = self._read_flow_run()
        return cast("dict[str, Any] | None", self._cache["flow_run"])

    def deployment(self) -> dict[str, Any] | None:
        """The deployment the event is about, or else its flow run's, if any."""
        if "deployment" not in self._cache:
            self._cache["deployment"] = self._read_deployment()
        return cast("dict[str, Any] | None", self._cache["deployment"])

    def template_context(self) -> dict[str, Any]:
        from papermill_bridge import run_link

        run = self.flow_run()
        return {
            "event": self.event,
            "flow_run": None if run is None else _run_view(run, self.event),
            "flow": None if run is None else {"id": run["flow_name"], "name": run["flow_name"]},
            "deployment": self.deployment(),
            "automation": {
                "id": str(self.automation.id),
                "name": self.automation.name,
                "description": self.automation.description,
            },
            "firing": {
                "key": self.firing.firing_key,
                "fired": self.firing.fired.isoformat(),
                "labels": self.firing.triggering_labels,
            },
            "run_url": None if run is None else run_link(run["id"]),
        }

    def _read_flow_run(self) -> dict[str, Any] | None:
        from kernel_ext._run_records import FlowRunId
        from kernel_ext.store import get_store

        run_id = _id_of_kind(self.event, "prefect.flow-run")
        if run_id is None:
            return None
        try:
            return dict(get_store().read_flow_run(FlowRunId(run_id)))
        except RunNotFound:
            return None

    def _read_deployment(self) -> dict[str, Any] | None:
        from kernel_ext._errors import DeploymentNotFound
        from kernel_ext.store import get_store

        deployment_id = _id_of_kind(self.event, "prefect.deployment")
        if deployment_id is None:
            run = self.flow_run()
            deployment_id = None if run is None else run.get("deployment_id")
        if deployment_id is None:
            return None
        try:
            return dict(get_store().read_deployment(deployment_id))
        except DeploymentNotFound:
            return None


def _id_of_kind(event: Event | None, kind: str) -> str | None:
    """The id in the first resource of ``kind`` (``prefect.flow-run.<id>``) the event
    involves: its own resource first, then the related ones (Prefect's order)."""
    if event is None:
        return None
    prefix = f"{kind}."
    for resource in event.involved_resources:
        if resource.id.startswith(prefix) and len(resource.id) > len(prefix):
            return resource.id[len(prefix) :]
    return None


def _run_view(run: Mapping[str, Any], event: Event | None) -> dict[str, Any]:
    """A flow run as Prefect's templates read it: ``flow_run.state.name``, ``.flow_id``."""
    about_it = event is not None and event.resource.id == f"prefect.flow-run.{run['id']}"
    moment = event.occurred.isoformat() if about_it and event is not None else None
    view = {key: value for key, value in run.items() if key != "task_runs"}
    view["state"] = {
        "name": run.get("state"),
        "type": str(getattr(run.get("state_type"), "value", run.get("state_type"))),
        "message": run.get("state_message"),
        "timestamp": moment or run.get("end_time") or run.get("start_time"),
    }
    view["flow_id"] = run.get("flow_name")
    return view
