"""``flow.deploy(...)`` and ``flow.serve(...)``: Prefect's everyday path, on Taskbook's store.

``deploy`` makes a deployment of the flow from the file it is defined in (a .py file, or
the saved notebook it was written in, up to its definition; see ``_flow_source``) and
returns its id; the workers of the store run it, like any deployment. ``serve`` deploys
it and then runs a scheduler and a worker for it in this process: in a script it blocks
until Ctrl-C (and pauses the deployment then, unless ``pause_on_shutdown=False``); in a
notebook (or under a running event loop) it returns a ``ServedFlow`` at once and serves
in background threads, so the kernel stays free: ``.stop()`` ends it.

Prefect's options that concern its infrastructure have no meaning here: ``work_pool_name``
and ``work_queue_name`` are accepted and ignored (the store's workers run every
deployment), ``image`` is refused (runs execute in the worker's Python environment).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from kernel_ext._display import in_notebook
from kernel_ext._errors import ConfigurationError, TaskbookError

__all__ = ["ServedFlow", "deploy_flow", "serve_flow"]

_ONE_SCHEDULE = "Only one of interval, cron, rrule, schedule, or schedules can be provided."


def deploy_flow(
    flow: Any,
    name: str,
    work_pool_name: str | None = None,
    image: Any = None,
    build: bool = True,
    push: bool = True,
    work_queue_name: str | None = None,
    job_variables: dict[str, Any] | None = None,
    interval: Any = None,
    cron: str | Iterable[str] | None = None,
    rrule: Any = None,
    paused: bool | None = None,
    schedule: Any = None,
    schedules: Any = None,
    concurrency_limit: int | None = None,
    triggers: Any = None,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    version: str | None = None,
    enforce_parameter_schema: bool = True,
    print_next_steps: bool = True,
    ignore_warnings: bool = False,
    profile: str | None = None,
    _sync: bool | None = None,
    **_prefect_only: Any,
) -> uuid.UUID | None:
    """Deploy ``flow`` as deployment ``name``; returns its id (None in a deployment run,
    where deploying again is skipped). In async code (a running event loop outside a
    notebook) it returns a coroutine, as Prefect's does: ``await flow.deploy(...)``; the
    deployment is made at the call."""
    from kernel_ext.deployment import skipped_headless

    if skipped_headless(f"{flow.name}.deploy()", "a run does not deploy its own flow"):
        return None
    if image is not None:
        raise ConfigurationError(
            "Taskbook runs deployments on its workers, in their Python environment, not in a "
            "container image: drop image= and start `taskbook worker` where the flow's "
            "packages are installed."
        )
    _refuse_triggers(triggers)
    deployment = _deploy(
        flow,
        name,
        _schedules(interval, cron, rrule, schedule, schedules),
        parameters=parameters,
        description=description,
        tags=tags,
        concurrency_limit=concurrency_limit,
        profile=profile,
        paused=paused,
    )
    if print_next_steps:
        version = deployment["versions"][0]["version"]
        print(
            f"Deployment {deployment['name']!r} of flow {flow.name!r} is at version {version}.\n"
            f"\nTo run it:\n\t$ taskbook run {deployment['name']}\n"
            "\nA worker executes its runs: `taskbook serve` (or `taskbook worker`)."
        )
    identifier = uuid.UUID(deployment["id"])
    if _sync is not True and (_sync is False or _async_code()):
        return _ready(identifier)  # type: ignore[return-value]
    return identifier


def serve_flow(
    flow: Any,
    name: str | None = None,
    interval: Any = None,
    cron: str | Iterable[str] | None = None,
    rrule: Any = None,
    paused: bool | None = None,
    schedule: Any = None,
    schedules: Any = None,
    global_limit: int | None = None,
    triggers: Any = None,
    parameters: dict[str, Any] | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    version: str | None = None,
    enforce_parameter_schema: bool = True,
    pause_on_shutdown: bool = True,
    print_starting_message: bool = True,
    limit: int | None = None,
    webserver: bool = False,
    profile: str | None = None,
    **_prefect_only: Any,
) -> ServedFlow | None:
    """Deploy ``flow`` and serve its runs from this process (see the module's docstring)."""
    from kernel_ext.deployment import skipped_headless

    if skipped_headless(f"{flow.name}.serve()", "a run does not serve its own flow"):
        return None
    _refuse_triggers(triggers)
    if _async_code():
        raise ConfigurationError(
            "Cannot call serve() in async code: it blocks until Ctrl-C. Call it from a "
            "script's top level (in a notebook it serves in the background)."
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigurationError(f"limit={limit!r}: give how many runs at once, 1 or more.")
    deployment_name = _serve_name(name, flow)
    deployment = _deploy(
        flow,
        deployment_name,
        _schedules(interval, cron, rrule, schedule, schedules),
        parameters=parameters,
        description=description,
        tags=tags,
        concurrency_limit=global_limit,
        profile=profile,
        paused=paused,
    )
    served = ServedFlow(deployment["name"], flow.name, limit or 1, pause_on_shutdown)
    served.start()
    if print_starting_message:
        print(served.starting_message())
    if in_notebook():
        return served
    served.wait()
    return None


class ServedFlow:
    """A flow served from this process: a scheduler for its deployment's schedules and
    ``limit`` workers for its runs, in daemon threads."""

    def __init__(
        self, deployment: str, flow_name: str, limit: int = 1, pause_on_shutdown: bool = True
    ) -> None:
        from papermill_bridge._scheduler import Scheduler
        from papermill_bridge._worker import Worker

        self.deployment = deployment
        self.flow_name = flow_name
        self.pause_on_shutdown = pause_on_shutdown
        # Ticks every second: a served flow's first run should not wait for a slow tick.
        self.scheduler = Scheduler(interval_seconds=1.0, deployments=[deployment])
        self.workers = [Worker(deployments=[deployment]) for _ in range(limit)]
        self._threads: list[threading.Thread] = []
        self.stopped = threading.Event()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped.is_set() else "serving"
        return f"<ServedFlow {self.flow_name!r} as deployment {self.deployment!r}: {state}>"

    def starting_message(self) -> str:
        return (
            f"Your flow {self.flow_name!r} is being served and polling for scheduled runs!\n"
            f"\nTo trigger a run for this flow, use the following command:\n"
            f"\n\t$ taskbook run {self.deployment}\n"
            + ("\nStop serving with .stop()." if in_notebook() else "\nCtrl-C stops it.")
        )

    def start(self) -> None:
        targets = [("scheduler", self.scheduler.serve)]
        targets += [(f"worker-{i}", w.serve) for i, w in enumerate(self.workers)]
        for label, target in targets:
            thread = threading.Thread(
                target=target, name=f"taskbook-serve-{self.deployment}-{label}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait(self) -> None:
        """Block until Ctrl-C (or SIGTERM, on the main thread), then stop."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.stopped.set())
        try:
            while not self.stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("Received KeyboardInterrupt, shutting down...", file=sys.stderr)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the scheduler and the workers; a run in progress is cancelled (its kernel
        stops, and it ends Cancelled), then pause the deployment unless asked not to."""
        from kernel_ext.store import get_store

        self.stopped.set()
        self.scheduler.stopping.set()
        for worker in self.workers:
            worker.stopping.set()
            if worker.current is not None:
                try:
                    get_store().request_cancel(worker.current)
                except TaskbookError:  # it ended meanwhile
                    pass
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.pause_on_shutdown:
            from kernel_ext.store import get_store

            get_store().set_deployment_paused(self.deployment, True)
            print(
                f"Paused deployment {self.deployment!r} (resume it: taskbook deployments "
                f"resume {self.deployment}).",
                file=sys.stderr,
            )

    def __enter__(self) -> ServedFlow:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- helpers ------------------------------------------------------------------------------


def _deploy(
    flow: Any,
    name: str,
    schedules: list[dict[str, Any]],
    *,
    parameters: dict[str, Any] | None,
    description: str | None,
    tags: list[str] | None,
    concurrency_limit: int | None,
    profile: str | None,
    paused: bool | None,
) -> Any:
    from kernel_ext.store import get_store
    from papermill_bridge._promote import promote_flow

    deployment = promote_flow(
        entrypoint_of(flow),
        name,
        schedules=schedules,
        parameters=_check_parameters(flow, parameters),
        tags=list(tags or ()) or list(flow.tags),
        concurrency_limit=concurrency_limit,
        profile=profile,
        description=description or flow.description,
        replace_schedules=True,  # as Prefect: the deployment has the schedules given now
    )
    # As Prefect: not given is not paused, so serving again after Ctrl-C runs again.
    if deployment["paused"] != bool(paused):
        get_store().set_deployment_paused(deployment["name"], bool(paused))
        deployment = get_store().read_deployment(deployment["name"])
    return deployment


def entrypoint_of(flow: Any) -> str:
    """``FILE:FUNCTION`` of the flow: its .py file, or the saved notebook it was defined in."""
    fn = flow.fn
    qualname = getattr(fn, "__qualname__", "")
    code = getattr(fn, "__code__", None)
    filename = code.co_filename if code is not None else ""
    if _defined_in_a_cell(filename):
        path = _notebook_path()
        _check_saved(fn, Path(path))
        return f"{path}:{fn.__name__}"
    if not filename or filename.startswith("<") or not Path(filename).is_file():
        raise ConfigurationError(
            "Flows defined interactively cannot be deployed: define the flow in a .py file "
            "(or a notebook) and deploy it from there."
        )
    if "." in qualname or "<" in qualname:
        raise ConfigurationError(
            f"The flow {flow.name!r} is defined inside {qualname.rpartition('.')[0]!r}; "
            "define it at the top level of its file to deploy it."
        )
    return f"{filename}:{fn.__name__}"


def _defined_in_a_cell(filename: str) -> bool:
    """IPython compiles each cell to a file of its own: ``ipykernel_<pid>/<hash>.py``."""
    return Path(filename).parent.name.startswith("ipykernel_") or filename.startswith(
        "<ipython-input-"
    )


def _check_saved(fn: Any, path: Path) -> None:
    """The saved notebook must hold the flow as the kernel runs it: deploying an older
    save would run other code than the user sees."""
    import json

    try:
        source = inspect.getsource(fn).strip()
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, TypeError, ValueError):
        return  # the source is not known here; _flow_source reports a missing file
    texts = (
        "".join(c.get("source", ""))
        if isinstance(c.get("source"), list)
        else str(c.get("source", ""))
        for c in cells
    )
    if not any(source in text for text in texts):
        raise ConfigurationError(
            f"The saved {path.name} does not hold the flow {fn.__name__!r} as this kernel "
            "defined it; save the notebook (Ctrl-S) and deploy again."
        )


def _notebook_path() -> str:
    from IPython import get_ipython

    from kernel_ext.cells._session import notebook_path

    shell = get_ipython()
    path = notebook_path(shell.user_ns if shell is not None else {})
    if path is None:
        raise ConfigurationError(
            "This kernel was not told its notebook's path, so the flow cannot be deployed "
            "from it; move the flow to a .py file and run `taskbook deploy FILE.py:FLOW "
            "--name NAME`."
        )
    return str(Path(path).resolve())


def _check_parameters(flow: Any, parameters: dict[str, Any] | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ConfigurationError(
            f"parameters= is a dict of the flow's parameters, not {type(parameters).__name__}."
        )
    known = set(inspect.signature(flow.fn).parameters)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ConfigurationError(
            f"parameters= names {', '.join(unknown)}, which the flow {flow.name!r} does not "
            f"take; its parameters: {', '.join(sorted(known)) or '(none)'}."
        )
    return dict(flow.serialize_parameters(dict(parameters)))


def _schedules(
    interval: Any, cron: Any, rrule: Any, schedule: Any, schedules: Any
) -> list[dict[str, Any]]:
    """Prefect's schedule options as the schedules ``promote`` takes."""
    from papermill_bridge.schedules import parse_schedule

    given = [x for x in (interval, cron, rrule, schedule, schedules) if x is not None]
    if len(given) > 1:
        raise ConfigurationError(_ONE_SCHEDULE)
    if rrule is not None:
        raise ConfigurationError(
            "RRule schedules are not supported; give cron= or interval= instead."
        )
    specs: list[dict[str, Any]] = []
    for every in _many(interval, (int, float, timedelta)):
        specs.append({"spec": parse_schedule(interval=_every(every)).to_dict()})
    for expression in _many(cron, (str,)):
        specs.append({"spec": parse_schedule(cron=expression).to_dict()})
    for entry in _many(schedule, (Mapping,)) + _many(schedules, (Mapping,)):
        specs.append(_schedule_entry(entry))
    return specs


def _many(value: Any, kinds: tuple[type, ...]) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, kinds) and not isinstance(value, bool):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        items = list(value)
        if all(isinstance(v, kinds) and not isinstance(v, bool) for v in items):
            return items
    names = " or ".join(k.__name__ for k in kinds)
    raise ConfigurationError(f"{value!r} is not a schedule option: give {names} (or a list).")


def _every(value: int | float | timedelta) -> timedelta:
    every = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if every <= timedelta(0):
        raise ConfigurationError(f"interval={value!r}: an interval is more than 0 seconds.")
    return every


def _schedule_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A schedule given as a dict: ``{"cron": "0 6 * * *", "timezone": "Europe/Paris"}``,
    ``{"interval": 3600}``, with optional ``parameters`` and ``catchup``."""
    from papermill_bridge.schedules import parse_schedule

    unknown = set(entry) - {"cron", "interval", "timezone", "parameters", "catchup"}
    if unknown:
        raise ConfigurationError(
            f"A schedule dict takes cron or interval, timezone, parameters and catchup; not "
            f"{', '.join(sorted(unknown))}."
        )
    interval = entry.get("interval")
    every = interval if interval is None or isinstance(interval, str) else _every(interval)
    spec = parse_schedule(
        cron=entry.get("cron"), interval=every, timezone=entry.get("timezone") or "UTC"
    )
    return {
        "spec": spec.to_dict(),
        "parameters": dict(entry.get("parameters") or {}),
        "catchup": entry.get("catchup", "latest"),
    }


def _serve_name(name: str | None, flow: Any) -> str:
    """Prefect's rule: the flow's name by default (as a deployment name: "Daily ETL"
    becomes "Daily-ETL"); a path to a file gives its stem."""
    if name is None:
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(flow.name)).strip("-.") or "flow"
    if name.endswith(".py") or Path(name).is_file():
        return Path(name).stem
    return name


def _refuse_triggers(triggers: Any) -> None:
    if triggers:
        raise ConfigurationError(
            "Deployment triggers are not supported yet; drop triggers= (schedules work)."
        )


def _async_code() -> bool:
    """Code under a running event loop, other than a notebook's cells (which all run
    under one): where Prefect's deploy returns a coroutine and its serve refuses."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return not in_notebook()


async def _ready(value: Any) -> Any:
    return value
