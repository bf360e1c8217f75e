"""``taskbook deploy``, ``run``, ``backfill``, ``worker``, ``serve``, and ``runs cancel``,
``retry`` and ``delete`` (the ``deployments`` group is in ``_deployment_commands``)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from kernel_ext._run_records import FlowRunId
from kernel_ext._states import FINAL_TYPES
from kernel_ext.store import get_store
from papermill_bridge import run_link
from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._deployment_commands import now, schedule_options
from papermill_bridge.cli._format import local_time
from papermill_bridge.cli._runs import runs

if TYPE_CHECKING:
    from kernel_ext.store.records import FlowRunDetail

__all__ = ["backfill", "deploy", "run", "serve", "worker"]


def _key_values(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.", param_hint="--param")
        values[key.strip()] = value
    return values


def _schedules(
    cron: str | None, interval: str | None, timezone: str | None, catchup: str = "latest"
) -> list[dict[str, Any]]:
    if cron is None and interval is None:
        if timezone is not None:
            raise click.UsageError("--timezone applies to a schedule; give --cron or --interval.")
        return []
    if cron is not None and interval is not None:
        raise click.UsageError("Give --cron or --interval, not both.")
    from papermill_bridge.schedules import parse_schedule

    spec = parse_schedule(cron=cron, interval=interval, timezone=timezone or "UTC").to_dict()
    return [{"spec": spec, "catchup": catchup}]


@cli.command()
@click.argument("source", metavar="NOTEBOOK | FILE.py:FLOW")
@click.option("--name", required=True, help="Deployment name (letters, digits, - _ .).")
@schedule_options
@click.option("--param", "-p", "params", multiple=True, help="Default KEY=VALUE (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--concurrency", type=click.IntRange(1), help="At most N runs at once.")
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Run a crashed run again, up to N times.",
)
@click.option(
    "--profile",
    help="Runs load secrets and variables as PROFILE-NAME first (e.g. prod, staging).",
)
@json_option
def deploy(
    source: str,
    name: str,
    cron: str | None,
    timezone: str | None,
    interval: str | None,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    concurrency: int | None,
    retries: int,
    catchup: str,
    profile: str | None,
    as_json: bool,
) -> None:
    """Promote a notebook, or a Python flow, to a versioned deployment.

    SOURCE is a notebook (its `parameters` cell gives the parameters), or a flow given
    as FILE.py:FLOW (or NOTEBOOK.ipynb:FLOW), whose signature gives them.

    \b
    Examples:
      taskbook deploy report.ipynb --name nightly --cron "0 6 * * *"
      taskbook deploy flows/etl.py:daily --name etl --interval 1h -p region=eu
    """
    from papermill_bridge import promote, promote_flow

    options: dict[str, Any] = {
        "schedules": _schedules(cron, interval, timezone, catchup),
        "parameters": _key_values(params),
        "tags": list(tags),
        "concurrency_limit": concurrency,
        "retries": retries,
        "profile": profile,
    }
    if _is_entrypoint(source):
        deployment = promote_flow(source, name, **options)
    else:
        deployment = promote(source, name, **options)
    if as_json:
        echo_json(deployment)
        return
    version = deployment["versions"][0]
    click.echo(
        f"Deployment {name} is at version {version['version']} "
        f"({len(deployment['schedules'])} schedule(s))."
    )
    click.echo(f"Run it now: taskbook run {name}   (a worker runs it: taskbook serve)")


def _is_entrypoint(source: str) -> bool:
    """FILE.py:FLOW or NOTEBOOK.ipynb:FLOW (Prefect's entrypoint form); a .py file without
    a flow name is asked for one."""
    path, sep, _ = source.rpartition(":")
    if sep and path.endswith((".py", ".ipynb")):
        return True
    if source.endswith(".py"):
        raise click.UsageError(
            f"Name the flow to deploy from {source}: {source}:FLOW_FUNCTION (e.g. {source}:main)."
        )
    return False


@cli.command()
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--wait", is_flag=True, help="Follow the run until it ends.")
@json_option
def run(name: str, params: tuple[str, ...], wait: bool, as_json: bool) -> None:
    """Start a run of deployment NAME now (a worker executes it)."""
    from papermill_bridge import start_run, wait_for

    started = start_run(name, _key_values(params))
    if not wait:
        if as_json:
            echo_json(started)
        else:
            click.echo(f"Created run {started['id']} ({started['name']}).")
            click.echo(f"Follow it: taskbook runs show {started['id'][:8]}")
            link = run_link(started["id"])
            if link:
                click.echo(f"Open it in JupyterLab: {link}")
        return
    if not as_json:
        click.echo(f"Created run {started['id']} ({started['name']}); waiting for a worker.")
    follower = _Follower(as_json)
    final = wait_for(started["id"], follower.show, on_poll=follower.poll)
    if as_json:
        echo_json(final)
    else:
        _echo_outcome(final)
    if final["state"] != "Completed":
        raise SystemExit(1)


class _Follower:
    """Prints each new state of a followed run, and how to answer it when it waits."""

    UNCLAIMED_SECONDS = 10.0

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.hinted: set[str] = set()
        self.since = time.monotonic()

    def poll(self, run: FlowRunDetail) -> None:
        """A run nobody claims: say once that a worker must be running."""
        waited = time.monotonic() - self.since
        due = run["state"] in ("Scheduled", "Late", "Resuming")
        if self.quiet or not due or waited < self.UNCLAIMED_SECONDS:
            return
        if "unclaimed" not in self.hinted:
            self.hinted.add("unclaimed")
            click.echo(
                "  no worker has claimed it yet: is `taskbook serve` (or `taskbook "
                "worker`) running on this store?"
            )

    def show(self, run: FlowRunDetail) -> None:
        self.since = time.monotonic()  # the wait for a worker counts from the last change
        if self.quiet:
            return
        from papermill_bridge.cli._runs import waiting_hints

        message = f": {run['state_message']}" if run.get("state_message") else ""
        click.echo(f"{local_time(now().isoformat())}  {run['state']}{message}")
        for hint in waiting_hints(get_store(), run):
            if hint not in self.hinted:
                self.hinted.add(hint)
                click.echo(f"  waiting for an answer: {hint}")
                click.echo("  (or answer in JupyterLab's Taskbook sidebar, Approvals)")


def _echo_outcome(run: FlowRunDetail) -> None:
    from papermill_bridge.cli._runs import echo_failure

    click.echo(f"Run {run['id'][:8]} ({run['name']}) ended {run['state']}.")
    if run.get("output_notebook"):
        click.echo(f"  output:     {run['output_notebook']}")
    if run["state"] != "Completed":
        echo_failure(run.get("failure"))
        click.echo(f"\nLogs: taskbook runs logs {run['id'][:8]}")


@cli.command("backfill")
@click.argument("name")
@click.option("--start", required=True, type=click.DateTime(), help="From (exclusive), UTC.")
@click.option("--end", required=True, type=click.DateTime(), help="To (inclusive), UTC.")
@click.option("--wait/--no-wait", default=True, help="Show progress until they all end.")
@json_option
def backfill(name: str, start: Any, end: Any, wait: bool, as_json: bool) -> None:
    """Create runs for the past schedule slots of NAME between --start and --end."""
    from datetime import UTC

    from papermill_bridge import backfill as create_runs

    created, existing = create_runs(name, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
    if as_json:
        echo_json({"created": created, "already_existing": existing})
        return
    click.echo(f"Created {len(created)} run(s); {existing} slot(s) already had one.")
    if wait and created:
        _progress(created)


def _progress(run_ids: list[FlowRunId]) -> None:
    store, done = get_store(), set[str]()
    with click.progressbar(length=len(run_ids), label="Backfill", show_pos=True) as bar:
        while len(done) < len(run_ids):
            for run_id in run_ids:
                if run_id not in done and store.read_flow_run(run_id)["state_type"] in FINAL_TYPES:
                    done.add(run_id)
                    bar.update(1)
            time.sleep(0.5)
    states = [store.read_flow_run(r)["state"] for r in run_ids]
    click.echo(", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))))


@runs.command("cancel")
@click.argument("run_id")
@json_option
def cancel(run_id: str, as_json: bool) -> None:
    """Cancel a deployment run: its worker stops the kernel and records Cancelled."""
    from kernel_ext._lookup import resolve_run_id

    store = get_store()
    result = store.request_cancel(FlowRunId(resolve_run_id(store, run_id)))
    if as_json:
        echo_json(result)
    else:
        click.echo(f"{result.get('state')}; a running kernel is stopped within seconds.")


@runs.command("retry")
@click.argument("run_id")
@json_option
def retry(run_id: str, as_json: bool) -> None:
    """Run a deployment run that failed, crashed or was cancelled again (same id): the
    %%task cells that finished before come back from their results."""
    from kernel_ext._lookup import resolve_run_id
    from papermill_bridge import retry_run

    result = retry_run(FlowRunId(resolve_run_id(get_store(), run_id)))
    if as_json:
        echo_json(result)
    else:
        click.echo(f"Run {result['id'][:8]} is queued again; a worker executes it.")
        click.echo(f"Follow it: taskbook runs show {result['id'][:8]}")


@runs.command("delete")
@click.argument("run_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(run_id: str, yes: bool, as_json: bool) -> None:
    """Delete a finished run with its task runs, subflows, logs, history, result index
    entries and output notebook."""
    from kernel_ext._lookup import resolve_run_id
    from papermill_bridge import delete_run

    full_id = FlowRunId(resolve_run_id(get_store(), run_id))
    run = get_store().read_flow_run(full_id)  # RunNotFound for a task run's id
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("Nobody is here to confirm: pass --yes to delete the run.")
        question = f"Delete run {run['name']} ({full_id[:8]}, {run['state']})?"
        click.confirm(question, abort=True, err=True)
    deleted = delete_run(full_id)
    if as_json:
        echo_json(deleted)
    else:
        click.echo(
            f"Deleted run {run['name']} with {deleted['task_runs']} task run(s), "
            f"{deleted['subflows']} subflow(s) and {deleted['log_lines']} log line(s)."
        )


def _until_interrupted(*stoppers: threading.Event) -> None:
    def stop(_signum: int, _frame: Any) -> None:
        for event in stoppers:
            event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _metrics_options(fn: Any) -> Any:
    fn = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        help="Address the metrics listen on (0.0.0.0: every interface).",
    )(fn)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port).",
    )(fn)


def _serve_metrics(port: int | None, host: str) -> None:
    """Start ``/metrics`` first, so an address in use stops the command before it works."""
    if port is None:
        return
    from papermill_bridge.metrics import serve_metrics

    click.echo(f"Metrics at {serve_metrics(port, host).url}")


@cli.command()
@click.option("--poll", default=0.2, show_default=True, help="Seconds between claims.")
@click.option("--heartbeat", default=5.0, show_default=True, help="Seconds between beats.")
@_metrics_options
def worker(poll: float, heartbeat: float, metrics_port: int | None, metrics_host: str) -> None:
    """Run a worker: claim due runs from the store and execute them (Ctrl-C stops)."""
    from papermill_bridge import Worker

    _serve_metrics(metrics_port, metrics_host)
    active = Worker(poll_seconds=poll, heartbeat_seconds=heartbeat)
    _until_interrupted(active.stopping)
    click.echo(f"Worker {active.worker_id} on {get_store().display_url}")
    active.serve()


@cli.command()
@_metrics_options
def serve(metrics_port: int | None, metrics_host: str) -> None:
    """Run the scheduler and a worker in one process (Ctrl-C stops both)."""
    from papermill_bridge import Scheduler, Worker

    _serve_metrics(metrics_port, metrics_host)
    scheduler, active = Scheduler(), Worker()
    _until_interrupted(scheduler.stopping, active.stopping)
    thread = threading.Thread(target=scheduler.serve, name="taskbook-scheduler", daemon=True)
    thread.start()
    click.echo(f"Scheduler and worker {active.worker_id} on {get_store().display_url}")
    active.serve()
    scheduler.stopping.set()
    thread.join(timeout=10)
