"""Promote: a notebook (or a Python flow) becomes a named, versioned deployment with a
parameter schema.

The deployment keeps a snapshot of the notebook (content and SHA-256): editing the file
later does not change what runs. Promoting again creates the next version, unless the
notebook is unchanged. Values given at promote time become the deployment's defaults,
validated against the schema first, so nothing half-made reaches the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from kernel_ext._errors import ConfigurationError
from kernel_ext.store import get_store
from papermill_bridge._parameters import check_required, coerce_parameters, read_parameters

if TYPE_CHECKING:
    from kernel_ext.store.records import DeploymentDetail, ScheduleEntry

__all__ = ["promote", "promote_flow"]


def promote(
    notebook: str | Path,
    name: str,
    *,
    schedules: Sequence[Mapping[str, Any]] = (),
    parameters: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    concurrency_limit: int | None = None,
    retries: int = 0,
    profile: str | None = None,
) -> DeploymentDetail:
    """Create (or version) deployment ``name`` from ``notebook``; returns the deployment."""
    path = Path(notebook)
    content = _read_notebook(path)
    schema = [p.to_dict() for p in read_parameters(path)]
    settings = _Settings(tags, concurrency_limit, retries, profile, None)
    return _store_version(name, path, content, schema, schedules, parameters, settings)


def promote_flow(
    entrypoint: str,
    name: str,
    *,
    schedules: Sequence[Mapping[str, Any]] = (),
    parameters: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    concurrency_limit: int | None = None,
    retries: int = 0,
    profile: str | None = None,
    description: str | None = None,
    replace_schedules: bool = False,
) -> DeploymentDetail:
    """Create (or version) deployment ``name`` of a Python flow: ``entrypoint`` is
    ``FILE.py:FLOW`` (Prefect's form) or ``NOTEBOOK.ipynb:FLOW`` (the saved notebook's cells
    up to the flow's definition). The snapshot is a notebook made from the source (see
    ``_flow_source``), so runs, versions and output notebooks work as for notebooks."""
    from papermill_bridge import _flow_source

    path, function = _flow_source.parse_entrypoint(entrypoint)
    if path.suffix == ".ipynb":
        _read_notebook(path)  # the same checks as a notebook deployment's
        source = _flow_source.from_notebook(path, function)
    else:
        source = _flow_source.from_python_file(path, function)
    schema = [p.to_dict() for p in source.parameters]
    settings = _Settings(tags, concurrency_limit, retries, profile, description)
    return _store_version(
        name, path, source.text(), schema, schedules, parameters, settings, replace_schedules
    )


class _Settings(NamedTuple):
    tags: list[str] | None
    concurrency_limit: int | None
    retries: int
    profile: str | None
    description: str | None


def _store_version(
    name: str,
    path: Path,
    content: str,
    schema: list[dict[str, Any]],
    schedules: Sequence[Mapping[str, Any]],
    parameters: dict[str, Any] | None,
    settings: _Settings,
    replace_schedules: bool = False,
) -> DeploymentDetail:
    """Check everything, then store the version and add the schedules it does not have
    (or, with ``replace_schedules``, make them the deployment's only ones)."""
    _check_same_notebook(name, path)
    defaults = coerce_parameters(schema, parameters or {})
    for parameter in schema:
        if parameter["name"] in defaults:
            parameter["default"] = defaults[parameter["name"]]
            parameter["required"] = parameter["expression"] = False
    # Everything is checked before anything is stored.
    checked = [
        {**s, "parameters": coerce_parameters(schema, s.get("parameters", {}))} for s in schedules
    ]
    for schedule in checked:
        check_required(schema, schedule["parameters"], "A schedule")
    store = get_store()
    store.create_deployment_version(
        name=_check_name(name),
        notebook_path=str(path.resolve()),
        notebook=content,
        notebook_sha256=hashlib.sha256(content.encode()).hexdigest(),
        parameters=schema,
        tags=tuple(settings.tags or ()),
        description=settings.description,
        concurrency_limit=settings.concurrency_limit,
        retries=settings.retries,
        profile=settings.profile,
    )
    if replace_schedules:
        entries: list[ScheduleEntry] = [
            {
                "spec": dict(s["spec"]),
                "parameters": s["parameters"],
                "active": True,
                "catchup": s.get("catchup", "latest"),
            }
            for s in checked
        ]
        store.replace_schedules(name, entries)
        return store.read_deployment(name)
    existing = [(s["spec"], s["parameters"]) for s in store.read_deployment(name)["schedules"]]
    for schedule in checked:
        overrides = schedule["parameters"]
        if (schedule["spec"], overrides) not in existing:  # promoting again adds no twin
            store.add_schedule(name, schedule["spec"], overrides, schedule.get("catchup", "latest"))
    return store.read_deployment(name)


def _check_same_notebook(name: str, path: Path) -> None:
    """A name belongs to one notebook: promoting another under it is refused."""
    try:
        current = get_store().read_deployment_version(name)
    except ConfigurationError:
        return  # a new deployment
    if Path(current["notebook_path"]) != path.resolve():
        raise ConfigurationError(
            f"The deployment name {name!r} is taken by {current['notebook_path']}; choose "
            "another --name, or promote that notebook."
        )


def _read_notebook(path: Path) -> str:
    if "\0" in str(path):
        raise ConfigurationError("The notebook path has a NUL character; check the path.")
    if path.suffix != ".ipynb":
        raise ConfigurationError(f"{path} is not a notebook (.ipynb); promote a notebook file.")
    try:
        content = path.read_text(encoding="utf-8")
        data = json.loads(content)
    except FileNotFoundError:
        raise ConfigurationError(f"No notebook at {path}; check the path.") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path} is a folder; promote a notebook file.") from None
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"{path} is not valid notebook JSON ({error.msg}, line {error.lineno}); save it "
            "from Jupyter and promote again."
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"{path} is not a notebook (not UTF-8 JSON); save it from Jupyter and promote again."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ConfigurationError(
            f"{path} is JSON but not a notebook (no list of cells); save it from Jupyter and "
            "promote again."
        )
    return content


def _check_name(name: str) -> str:
    # The name is a folder of output notebooks: "..", "." or "-x" must not be one.
    valid = name[:1].isascii() and name[:1].isalnum() and len(name) <= 200
    if not valid or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        raise ConfigurationError(
            f"Deployment name {name!r} is not valid; use letters, digits, '-', '_' or '.', "
            "starting with a letter or digit."
        )
    return name
