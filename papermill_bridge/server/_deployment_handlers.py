"""Deployments: list, read (schedules in words, with their next runs), promote a notebook
under the server's root, delete, pause, resume, replace the schedules, start a run, what
changed between versions; a notebook's parameters.

    GET    deployments | deployments/{name}
    POST   deployments                  {"notebook": "rel/path.ipynb", "name": ..., "cron" or
                                         "interval", "timezone", "parameters", "tags"}
    DELETE deployments/{name}           its versions, schedules and runs not started yet
    POST   deployments/{name}/pause | deployments/{name}/resume
    PUT    deployments/{name}/schedules {"schedules": [{"cron", "timezone"} | {"interval"},
                                         with "parameters", "active", "catchup"]}
    POST   deployments/{name}/runs      {"parameters": {...}}  -> 201, a Scheduled run
    GET    deployments/{name}/diff?from=V&to=W   cells and parameters, V to W
    GET    notebooks/parameters?path=rel/path.ipynb

Paths are relative to /taskbook/api/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from kernel_ext._errors import DeploymentNotFound
from kernel_ext.store import get_store
from papermill_bridge.server._base import BadRequest, NotFound, TaskbookHandler, field

if TYPE_CHECKING:
    from kernel_ext.store.records import DeploymentDetail, DeploymentSummary

__all__ = ["ROUTES", "read_deployment"]

NEXT_RUNS = 3


def read_deployment(name: str) -> dict[str, Any]:
    """The deployment, its schedules described and its newest versions with what changed;
    an unknown name is a 404, not a 400."""
    from papermill_bridge import version_summaries

    try:
        deployment = get_store().read_deployment(name)
    except DeploymentNotFound as error:
        raise NotFound(str(error)) from None
    changes = version_summaries(deployment["name"], deployment["versions"])
    versions = [
        {**v, "changes": changes[v["version"]]} if v["version"] in changes else dict(v)
        for v in deployment["versions"]
    ]
    return {**_described(deployment), "versions": versions}


def _described(deployment: DeploymentDetail | DeploymentSummary) -> dict[str, Any]:
    from papermill_bridge.schedules import schedule_from_dict

    now = datetime.now(UTC)
    described: list[dict[str, Any]] = []
    for entry in deployment["schedules"]:
        schedule = schedule_from_dict(entry["spec"])
        slots, slot = [], now
        for _ in range(NEXT_RUNS):
            slot = schedule.next_after(slot)
            slots.append(slot.isoformat())
        described.append({**entry, "description": schedule.describe(), "next_runs": slots})
    return {**deployment, "schedules": described}


def resolve_notebook(root: str, relative: str) -> Path:
    """``relative`` inside the server's root, or a 400: no escape with '..' or '/'."""
    if "\0" in relative:
        raise BadRequest(
            "The notebook path has a NUL character; give the path as the file browser shows it."
        )
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise BadRequest(
            f"The notebook {relative!r} is outside the server's root folder; give a path "
            "relative to it, as the file browser shows."
        )
    return path


def create_deployment(root: str, data: dict[str, Any]) -> dict[str, Any]:
    from papermill_bridge import promote
    from papermill_bridge.schedules import parse_schedule

    notebook, name = field(data, "notebook", str), field(data, "name", str)
    if not notebook or not name:
        raise BadRequest("Give the 'notebook' (a path under the server's root) and a 'name'.")
    path = resolve_notebook(root, notebook)
    if not path.is_file():
        raise NotFound(f"No notebook at {notebook!r} under the server's root; check the path.")
    cron, interval = field(data, "cron", str), field(data, "interval", str)
    timezone = field(data, "timezone", str, "UTC")
    schedules = []
    if cron is not None or interval is not None:
        spec = parse_schedule(cron=cron, interval=interval, timezone=timezone).to_dict()
        schedules.append({"spec": spec})
    parameters, tags = field(data, "parameters", dict, {}), field(data, "tags", list, [])
    promote(path, name, schedules=schedules, parameters=parameters, tags=tags)
    return read_deployment(name)


def replace_schedules(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Replace the deployment's schedules; the deployment as ``GET`` reads it."""
    from papermill_bridge import set_schedules

    schedules = field(data, "schedules", list)
    if schedules is None:
        raise BadRequest(
            'Give \'schedules\': a list of {"cron", "timezone"} or {"interval"} objects; '
            "[] removes them all."
        )
    set_schedules(name, schedules)
    return read_deployment(name)


_MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer


def version_number(name: str, text: str | None) -> int | None:
    """A version number given as a query argument; None if absent."""
    if text is None:
        return None
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0
    if not 1 <= number <= _MAX_VERSION:
        raise BadRequest(f"{name} must be a version number from 1 to {_MAX_VERSION}, got {text!r}.")
    return number


def notebook_parameters(root: str, relative: str | None) -> list[dict[str, Any]]:
    from papermill_bridge import read_parameters

    if relative is None:
        raise BadRequest("Give the notebook as ?path=, relative to the server's root.")
    path = resolve_notebook(root, relative)
    if path.suffix != ".ipynb":
        raise BadRequest(f"{relative!r} is not a notebook (.ipynb).")
    if not path.is_file():
        raise NotFound(f"No notebook at {relative!r} under the server's root; check the path.")
    return [p.to_dict() for p in read_parameters(path)]


class _Handler(TaskbookHandler):
    @property
    def root(self) -> str:
        return str(self.settings["server_root_dir"])


class DeploymentsHandler(_Handler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: [_described(d) for d in get_store().list_deployments()])

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("execute")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self) -> None:
        self.respond(lambda: create_deployment(self.root, self.body()), 201)


class DeploymentHandler(_Handler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, name: str) -> None:
        self.respond(lambda: read_deployment(name))

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def delete(self, name: str) -> None:
        from papermill_bridge import delete_deployment

        self.respond(lambda: _described(delete_deployment(name)))


class SchedulesHandler(_Handler):
    # A schedule makes workers run the notebook, with the parameters it names: as
    # starting a run does, it takes execute.
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("execute")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def put(self, name: str) -> None:
        self.respond(lambda: replace_schedules(name, self.body()))


class DiffHandler(_Handler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self, name: str) -> None:
        from papermill_bridge import version_diff

        def diff() -> Any:
            # Empty is not a number: refused, as a missing argument is not.
            old = version_number("from", self.get_query_argument("from", None))
            new = version_number("to", self.get_query_argument("to", None))
            return version_diff(name, old, new)

        self.respond(diff)


class PauseHandler(_Handler):
    paused = True

    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("write")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, name: str) -> None:
        def action() -> Any:
            read_deployment(name)
            get_store().set_deployment_paused(name, self.paused)
            return read_deployment(name)

        self.respond(action)


class ResumeDeploymentHandler(PauseHandler):
    paused = False


class StartRunHandler(_Handler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("execute")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def post(self, name: str) -> None:
        from papermill_bridge import start_run

        def action() -> Any:
            parameters = field(self.body(), "parameters", dict, {})
            read_deployment(name)
            return start_run(name, parameters)

        self.respond(action, 201)


class ParametersHandler(_Handler):
    @web.authenticated  # type: ignore[misc,unused-ignore]
    @authorized("read")  # type: ignore[untyped-decorator,misc,unused-ignore]
    def get(self) -> None:
        self.respond(lambda: notebook_parameters(self.root, self.query("path")))


ROUTES: list[tuple[str, type[TaskbookHandler]]] = [
    (r"deployments", DeploymentsHandler),
    (r"deployments/([^/]+)", DeploymentHandler),
    (r"deployments/([^/]+)/pause", PauseHandler),
    (r"deployments/([^/]+)/resume", ResumeDeploymentHandler),
    (r"deployments/([^/]+)/schedules", SchedulesHandler),
    (r"deployments/([^/]+)/runs", StartRunHandler),
    (r"deployments/([^/]+)/diff", DiffHandler),
    (r"notebooks/parameters", ParametersHandler),
]
