"""``Automation``: a trigger and the actions it starts, kept in the store (Prefect's
``prefect.automations.Automation``).

    from kernel_ext.automations import Automation, EventTrigger, SendNotification

    Automation(
        name="tell me about failures",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}),
        actions=[SendNotification(url="slack://T000/B000/XXXX")],
    ).create()
    Automation.read(name="tell me about failures").pause()

The scheduler (``taskbook serve``) evaluates the enabled automations against the events
in the store. As in Prefect, each method returns its value in sync code and a coroutine
inside an async flow or task (``acreate``, ``aread``, ... always return one). Unlike
Prefect, names are unique in the store, so ``read(name=...)`` finds one automation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kernel_ext._async_bridge import off_loop
from kernel_ext._dispatch import runs_async
from kernel_ext.automations._actions import ActionTypes, RunDeployment
from kernel_ext.automations._triggers import EventTrigger, Posture, Trigger, TriggerTypes

__all__ = ["Automation", "AutomationCore"]

# Prefect's fields that Taskbook reads and drops, so an exported automation loads as it is.
_PREFECT_ONLY = ("tags", "owner_resource", "created", "updated")
# Every run of a deployment goes through these: reacting to them by running a deployment
# inferred from the run would start runs forever (Prefect's list).
_EVERY_RUN_EVENTS = {
    "prefect.flow-run.Scheduled",
    "prefect.flow-run.Pending",
    "prefect.flow-run.Running",
    "prefect.flow-run.*",
}


class AutomationCore(BaseModel):
    """What an automation is, without its id: its trigger and its actions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The name of this automation")
    description: str = Field(default="", description="A longer description of this automation")
    enabled: bool = Field(default=True, description="Whether this automation will be evaluated")
    trigger: TriggerTypes = Field(
        description="The criteria for which events this Automation covers and how it will "
        "respond to the presence or absence of those events"
    )
    actions: list[ActionTypes] = Field(
        description="The actions to perform when this Automation triggers"
    )
    actions_on_trigger: list[ActionTypes] = Field(
        default_factory=list,
        description="The actions to perform when an Automation goes into a triggered state",
    )
    actions_on_resolve: list[ActionTypes] = Field(
        default_factory=list,
        description="The actions to perform when an Automation goes into a resolving state",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_prefect_only_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in _PREFECT_ONLY}
        return data

    @field_validator("actions_on_resolve")
    @classmethod
    def _no_resolve_actions(cls, actions: list[Any]) -> list[Any]:
        if actions:
            raise ValueError(
                "actions_on_resolve never run here (event, compound and sequence triggers "
                "do not resolve); move them to `actions`, or leave the list empty"
            )
        return actions

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("an automation needs a name, e.g. `name: failed-runs-to-slack`")
        return name

    @field_validator("trigger", mode="before")
    @classmethod
    def _no_metric_trigger(cls, value: Any) -> Any:
        if isinstance(value, dict) and (
            value.get("type") == "metric" or value.get("posture") == "Metric"
        ):
            raise ValueError(
                "metric triggers are not supported; use an event trigger (Reactive or "
                "Proactive), or a compound or sequence trigger"
            )
        return value

    @model_validator(mode="after")
    def _no_run_deployment_loop(self) -> AutomationCore:
        """Prefect's guard: an automation that runs a deployment on every flow-run state
        change would start runs forever."""
        trigger = self.trigger
        if not self.enabled or not isinstance(trigger, EventTrigger):
            return self
        if trigger.posture is not Posture.Reactive or not _EVERY_RUN_EVENTS & trigger.expect:
            return self
        for action in self.actions:
            if isinstance(action, RunDeployment):
                _check_loop(trigger, action)
        return self

    def triggers(self) -> list[Trigger]:
        """Every trigger of this automation, the outermost first."""
        return list(self.trigger.all_triggers())

    def trigger_by_id(self, trigger_id: uuid.UUID) -> Trigger | None:
        return next((t for t in self.triggers() if t.id == trigger_id), None)


def _check_loop(trigger: EventTrigger, action: RunDeployment) -> None:
    if action.source == "inferred":
        raise ValueError(
            "Running an inferred deployment from a flow run state change event will lead "
            "to an infinite loop of flow runs. Please choose a specific deployment and add "
            "additional filtering labels to the match or match_related for this "
            "automation's trigger."
        )
    related = trigger.match_related
    specifications = related if isinstance(related, list) else [related]
    if trigger.match.matches_every_resource_of_kind("prefect.flow-run") and any(
        spec.matches_every_resource_of_kind("prefect.flow-run") for spec in specifications
    ):
        raise ValueError(
            "Running a selected deployment from a flow run state change event may lead to "
            "an infinite loop of flow runs. Please include additional filtering labels on "
            "either match or match_related to narrow down which flow runs will trigger "
            "this automation to exclude flow runs from the deployment you've selected."
        )


class Automation(AutomationCore):
    """An automation, saved in the store once it has an ``id``."""

    id: uuid.UUID | None = Field(default=None, description="The ID of this automation")

    def to_record(self) -> dict[str, Any]:
        """The automation as the store keeps it (JSON values; an id is given if missing)."""
        record = self.model_dump(mode="json")
        record["id"] = str(self.id or uuid.uuid4())
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Automation:
        """The automation a store record holds (its other columns are left out)."""
        fields = {key: record[key] for key in _RECORD_FIELDS if record.get(key) is not None}
        return cls.model_validate(fields)

    def create(self, *, _sync: bool | None = None) -> Automation:
        """Save this automation; returns it with its ``id``. A name in use is refused
        (``AutomationExists``)."""
        if runs_async(_sync):
            return cast(Automation, self.acreate())
        return self._create_now()

    async def acreate(self) -> Automation:
        return await off_loop(self._create_now)

    def update(self, *, _sync: bool | None = None) -> None:
        """Save the changes made to this (read or created) automation."""
        if runs_async(_sync):
            return cast(None, self.aupdate())
        self._update_now()

    async def aupdate(self) -> None:
        await off_loop(self._update_now)

    @classmethod
    def read(
        cls,
        id: uuid.UUID | str | None = None,
        name: str | None = None,
        *,
        _sync: bool | None = None,
    ) -> Automation:
        """The automation with this id or this name; ``ValueError`` if there is none."""
        if runs_async(_sync):
            return cast(Automation, cls.aread(id=id, name=name))
        return cls._read_now(id, name)

    @classmethod
    async def aread(cls, id: uuid.UUID | str | None = None, name: str | None = None) -> Automation:
        return await off_loop(lambda: cls._read_now(id, name))

    def delete(self, *, _sync: bool | None = None) -> bool:
        """Delete this automation: True if it was in the store, False if not."""
        if runs_async(_sync):
            return cast(bool, self.adelete())
        return self._delete_now()

    async def adelete(self) -> bool:
        return await off_loop(self._delete_now)

    def pause(self, *, _sync: bool | None = None) -> bool:
        """Stop evaluating this automation (Prefect 3's ``disable``); False if it is gone."""
        if runs_async(_sync):
            return cast(bool, self.apause())
        return self._set_enabled_now(False)

    async def apause(self) -> bool:
        return await off_loop(lambda: self._set_enabled_now(False))

    def resume(self, *, _sync: bool | None = None) -> bool:
        """Evaluate this automation again (Prefect 3's ``enable``); False if it is gone."""
        if runs_async(_sync):
            return cast(bool, self.aresume())
        return self._set_enabled_now(True)

    async def aresume(self) -> bool:
        return await off_loop(lambda: self._set_enabled_now(True))

    disable, adisable = pause, apause  # Prefect 3's names
    enable, aenable = resume, aresume

    def _create_now(self) -> Automation:
        from kernel_ext.store import get_store

        record = get_store().create_automation(self.to_record())
        self.id = uuid.UUID(str(record["id"]))
        return self

    def _update_now(self) -> None:
        from kernel_ext.store import get_store

        automation_id = self._require_id("update")
        fields = self.to_record()
        del fields["id"]
        get_store().update_automation(automation_id, **fields)

    @classmethod
    def _read_now(cls, id: uuid.UUID | str | None, name: str | None) -> Automation:
        from kernel_ext.store import get_store

        if id and name:
            raise ValueError("Only one of id or name can be provided")
        if not id and not name:
            raise ValueError("One of id or name must be provided")
        record = get_store().find_automation(str(id or name))
        if record is None or (name and record["name"] != name):
            what = f"ID {str(id)!r}" if id else f"name {name!r}"
            raise ValueError(
                f"Automation with {what} not found; `taskbook automations ls` lists them."
            )
        return cls.from_record(record)

    def _delete_now(self) -> bool:
        from kernel_ext.store import get_store

        return bool(get_store().delete_automation(self._require_id("delete")))

    def _set_enabled_now(self, enabled: bool) -> bool:
        from kernel_ext.store import get_store

        automation_id = self._require_id("resume" if enabled else "pause")
        if get_store().find_automation(automation_id) is None:
            return False
        get_store().set_automation_enabled(automation_id, enabled)
        self.enabled = enabled
        return True

    def _require_id(self, verb: str) -> str:
        if self.id is None:
            raise ValueError(
                f"Can't {verb} an automation without an id: create() it first, or "
                f"Automation.read(name=...) it"
            )
        return str(self.id)


_RECORD_FIELDS = (*AutomationCore.model_fields, "id")
