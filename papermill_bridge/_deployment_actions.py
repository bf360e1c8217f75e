"""An operator's actions on a deployment, shared by the CLI and the REST API: delete it,
replace its schedules.

A schedule is given as the REST API takes it, ``{"cron": "0 6 * * *", "timezone":
"Europe/Paris"}`` or ``{"interval": "15m"}`` (or ``{"spec": {...}}``, a schedule as a
deployment lists it), each with optional ``parameters`` (over the deployment's defaults,
checked against its latest version), ``active`` (True) and ``catchup`` ("latest").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kernel_ext._errors import ConfigurationError, ParameterValidationError
from kernel_ext.store import get_store
from kernel_ext.store.records import DeletedDeployment, ReplacedSchedules, ScheduleEntry
from papermill_bridge._parameters import check_required, coerce_parameters

__all__ = ["delete_deployment", "set_schedules"]

_FIELDS = ("cron", "interval", "spec", "timezone", "parameters", "active", "catchup")
_CATCHUPS = ("latest", "all")


def delete_deployment(name: str) -> DeletedDeployment:
    """Delete deployment ``name`` with its versions, schedules and the runs not started
    yet; the runs that started stay on record (without a deployment). Returns the
    deployment as it was, with ``deleted_runs``; ``DeploymentNotFound`` if none."""
    return get_store().delete_deployment(name)


def set_schedules(name: str, schedules: Sequence[Mapping[str, Any]]) -> ReplacedSchedules:
    """Make ``schedules`` deployment ``name``'s schedules (``[]`` removes them all).

    Every entry is checked first (a bad one raises an error that starts "schedule 2:",
    and nothing changes). Then, in one transaction, the schedules asked for again (same
    times, same parameters) stay with the runs they made and their last slot, taking the
    entry's ``active`` and ``catchup``; the others go with their runs no worker has
    claimed yet; new ones run from their first slot after now.
    """
    store = get_store()
    deployment = store.read_deployment(name)
    schema = deployment["versions"][0]["parameters"] if deployment["versions"] else []
    if isinstance(schedules, (str, bytes, Mapping)):
        raise ConfigurationError(
            f"Give the schedules as a list of dicts ([] removes them all), got {schedules!r}."
        )
    entries: list[ScheduleEntry] = []
    for number, given in enumerate(schedules, 1):
        entry = _entry(number, given, schema)
        twin = next((n for n, e in enumerate(entries, 1) if _same_slots(e, entry)), None)
        if twin is not None:
            raise ConfigurationError(
                f"schedule {number}: the same times and parameters as schedule {twin}; give "
                "each schedule once."
            )
        entries.append(entry)
    return store.replace_schedules(deployment["id"], entries)


def _entry(number: int, given: Any, schema: list[dict[str, Any]]) -> ScheduleEntry:
    try:
        return _checked(given, schema)
    except ParameterValidationError as error:
        raise ParameterValidationError(f"schedule {number}: {error}") from None
    except ConfigurationError as error:
        raise ConfigurationError(f"schedule {number}: {error}") from None


def _checked(given: Any, schema: list[dict[str, Any]]) -> ScheduleEntry:
    from papermill_bridge.schedules import parse_schedule, schedule_from_dict

    if not isinstance(given, Mapping):
        raise ConfigurationError(
            f"give an object with cron (and timezone), interval or spec, got {given!r}."
        )
    unknown = sorted(str(key) for key in given if key not in _FIELDS)
    if unknown:
        raise ConfigurationError(
            f"unknown field(s) {', '.join(unknown)}; a schedule has {', '.join(_FIELDS)}."
        )
    values = {key: value for key, value in given.items() if value is not None}
    kinds = [key for key in ("cron", "interval", "spec") if key in values]
    if len(kinds) != 1:
        raise ConfigurationError(
            "give exactly one of cron (e.g. '0 6 * * *'), interval (e.g. '15m') or spec"
            + (f", not {' and '.join(kinds)}." if kinds else ".")
        )
    if kinds == ["spec"]:
        if "timezone" in values:
            raise ConfigurationError("a spec carries its own time zone; drop timezone.")
        spec = schedule_from_dict(dict(_typed(values, "spec", dict))).to_dict()
    else:
        spec = parse_schedule(
            cron=_typed(values, "cron", str),
            interval=_typed(values, "interval", str),
            timezone=_typed(values, "timezone", str, "UTC"),
        ).to_dict()
    catchup = _typed(values, "catchup", str, "latest")
    if catchup not in _CATCHUPS:
        raise ConfigurationError(
            f"catchup must be 'latest' (run the most recent missed slot) or 'all', got {catchup!r}."
        )
    overrides = coerce_parameters(schema, dict(_typed(values, "parameters", dict, {})))
    check_required(schema, overrides, "A schedule")
    return {
        "spec": spec,
        "parameters": overrides,
        "active": _typed(values, "active", bool, True),
        "catchup": catchup,
    }


_KINDS = {str: "a string", dict: "an object", bool: "true or false"}


def _typed(values: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    if key not in values:
        return default
    value = values[key]
    wrong = isinstance(value, bool) and kind is not bool
    if wrong or not isinstance(value, Mapping if kind is dict else kind):
        raise ConfigurationError(f"{key} must be {_KINDS[kind]}, got {value!r}.")
    return value


def _same_slots(one: ScheduleEntry, other: ScheduleEntry) -> bool:
    return one["spec"] == other["spec"] and one["parameters"] == other["parameters"]
