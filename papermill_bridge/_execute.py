"""Executing one deployment run: its notebook snapshot through papermill, headless.

The snapshot gets a first cell that attaches the kernel to the run (so ``%%task`` cells,
tasks and flows inside land under it), papermill injects the run's parameters after the
``parameters`` cell, and the output notebook is written under the data directory and
linked from the run. This runs in a child process of the worker (see ``_worker``), so
cancelling a run or losing a kernel never takes the worker down. How the run ended goes
back to the worker as a ``RunOutcome`` written to the file ``--outcome`` names.

    python -m papermill_bridge._execute --outcome PATH RUN_ID
    python -m papermill_bridge._execute --outcome PATH   # warm: RUN_ID from stdin, later
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kernel_ext import _settings
from kernel_ext._errors import ConfigurationError
from kernel_ext._run_records import FlowRunId
from kernel_ext._states import Completed, Crashed, Failed
from papermill_bridge._failure import failure_from_papermill
from papermill_bridge._outcome import RunOutcome
from papermill_bridge._parameters import PYTHON3_KERNELSPEC
from papermill_bridge._run_span import trace_run
from papermill_bridge._scrub import scrubbed_output

__all__ = ["execute_or_crash", "execute_run", "main", "output_path"]

ATTACH_SOURCE = (
    "# Injected by Taskbook: this kernel executes a deployment run.\n"
    "import kernel_ext.deployment\n"
    "kernel_ext.deployment.attach();"  # the semicolon: no output in the output notebook
)


def output_path(deployment: str, run_id: str) -> Path:
    folder = _settings.home() / "outputs" / deployment
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.ipynb"


def _with_attach_cell(notebook: str, run_id: str, deployment: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(notebook)
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "id": "taskbook-attach",
        "metadata": {"tags": ["injected-taskbook"], "jupyter": {"source_hidden": True}},
        "outputs": [],
        "source": ATTACH_SOURCE,
    }
    content["cells"] = [cell, *content.get("cells", [])]
    metadata = content.setdefault("metadata", {})
    # The output notebook names its run, so JupyterLab's console can open the run from it.
    own = metadata.get("taskbook") if isinstance(metadata.get("taskbook"), dict) else {}
    metadata["taskbook"] = {**own, "flow_run_id": run_id, "deployment": deployment}
    if not (metadata.get("kernelspec") or {}).get("name"):
        metadata["kernelspec"] = PYTHON3_KERNELSPEC  # papermill needs one to know the language
    return content


def execute_run(run_id: FlowRunId) -> RunOutcome:
    """Execute flow run ``run_id``. Never raises for a failing notebook: a failure is
    data (cell, exception name and value, traceback) in the outcome's state."""
    import papermill

    from kernel_ext.store import get_store

    store = get_store()
    run = store.read_flow_run(run_id)
    deployment = run["deployment_name"]
    if deployment is None:
        raise ConfigurationError(
            f"Run {run_id} is not a run of a deployment; only those execute headless."
        )
    version = store.read_deployment_version(deployment, run["deployment_version"])
    output = output_path(deployment, run_id)
    store.set_output_notebook(run_id, str(output))
    folder = Path(version["notebook_path"]).parent
    with tempfile.TemporaryDirectory(prefix="taskbook-run-") as tmp, scrubbed_output(output):
        source = Path(tmp) / "input.ipynb"
        notebook = _with_attach_cell(version["notebook"], run_id, deployment)
        source.write_text(json.dumps(notebook))
        parameters, folder = _flow_inputs(notebook, run["parameters"] or {}, folder)
        os.environ["TASKBOOK_FLOW_RUN_ID"] = run_id
        _set_profile(store.read_deployment(deployment)["profile"])
        try:
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                cwd=str(folder) if folder.is_dir() else tmp,
            )
        except papermill.PapermillExecutionError as error:
            failure = failure_from_papermill(error, output)
            try:
                _log_error(run_id, failure.report())
            except Exception:  # the failure still reaches the run through its state
                pass
            return RunOutcome(Failed(failure.message, details=failure.to_details()), str(output))
    return RunOutcome(Completed(), str(output))


def _flow_inputs(
    notebook: dict[str, Any], parameters: dict[str, Any], folder: Path
) -> tuple[dict[str, Any], Path]:
    """What papermill injects, and where the kernel starts. A Python flow's snapshot
    takes its parameters as one dict (see ``_flow_source``) and runs from the project
    folder it was deployed from, as the flow ran there."""
    flow = (notebook.get("metadata") or {}).get("taskbook", {})
    if not flow.get("parameters"):
        return parameters, folder
    project = Path(flow.get("cwd") or folder)
    return {flow["parameters"]: parameters}, project if project.is_dir() else folder


def _set_profile(profile: str | None) -> None:
    """The deployment's profile reaches the kernel (which inherits this environment):
    secrets and variables are looked up as "<profile>-<name>" first. Without one, the
    worker's own TASKBOOK_PROFILE (a staging machine's, say) applies. Each run has an
    executor process of its own, so nothing carries over to the next run."""
    if profile:
        os.environ["TASKBOOK_PROFILE"] = profile


def _log_error(run_id: FlowRunId, text: str) -> None:
    """A failure is a log line of the run too, so `taskbook runs logs` shows it."""
    from kernel_ext._events import LogEvent, bus
    from kernel_ext.store import get_store

    bus.emit(LogEvent(run_id, None, logging.ERROR, "taskbook.deployments", text, time.time()))
    get_store().flush()


def _warm_then_read_run_id() -> str:
    """Load the heavy modules first, then wait for the run id: a worker keeps one such
    process ready, so a claimed run starts without paying for Python's start-up."""
    import papermill  # noqa: F401

    from kernel_ext.store import get_store

    get_store()
    return sys.stdin.readline().strip()


def execute_or_crash(run_id: FlowRunId) -> RunOutcome:
    """``execute_run``, with anything that goes wrong outside the notebook's cells (a
    kernel that dies, a notebook papermill cannot run) reported as Crashed, with its
    traceback in the run's details and logs."""
    try:
        return execute_run(run_id)
    except Exception as error:
        import traceback

        message = f"The run could not execute its notebook: {type(error).__name__}: {error}"
        trace = "".join(traceback.format_exception(error))
        try:
            _log_error(run_id, f"{message}\n{trace}")
        except Exception:  # the store may be what failed; the outcome still goes out
            pass
        details = {
            "exception_type": type(error).__name__,
            "exception_message": str(error),
            "traceback": trace,
        }
        return RunOutcome(Crashed(message, details=details))


def _exit_on_sigterm() -> None:
    """A worker stops the executor of a cancelled run with SIGTERM (and SIGKILL 30 s
    later). Exit through Python instead of dying at once, so ``finally`` blocks run:
    papermill saves the notebook and shuts its kernel down, and the last scrub of the
    output notebook runs (see ``_scrub``). Later SIGTERMs wait for that to end."""

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> None:
    """Execute one run and write its outcome where ``--outcome`` says."""
    parser = argparse.ArgumentParser(prog="python -m papermill_bridge._execute")
    parser.add_argument("--outcome", type=Path, required=True, help="the outcome's file")
    parser.add_argument("run_id", nargs="?", help="the run (else read from stdin)")
    args = parser.parse_args(argv)
    _exit_on_sigterm()
    run_id = args.run_id or _warm_then_read_run_id()
    if run_id:
        end_span = trace_run(FlowRunId(run_id))  # a no-op unless tracing is on
        outcome = execute_or_crash(FlowRunId(run_id))
        outcome.write(args.outcome)  # first: exporting the span must not delay the worker
        end_span(outcome.state)


if __name__ == "__main__":
    main()
