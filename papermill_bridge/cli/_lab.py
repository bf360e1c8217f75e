"""``taskbook lab``: JupyterLab (with the Taskbook extension) and ``taskbook serve`` together.

Both run as child processes on the same store; Ctrl-C (or SIGTERM) stops both cleanly.
Without a NOTEBOOK, the quick start is written to the current folder (unless a file of
that name is there already) and opened, so a first ``taskbook lab`` has something to run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from kernel_ext._errors import ConfigurationError
from papermill_bridge.cli._app import cli

__all__ = ["lab", "quickstart_notebook"]

QUICKSTART = "quickstart.ipynb"


def quickstart_notebook() -> Path:
    """The packaged quick-start notebook (in a checkout: ``notebooks/quickstart.ipynb``)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (
        package / "_examples" / QUICKSTART,
        package.parent / "notebooks" / QUICKSTART,
    ):
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        "The quick-start notebook is missing from this install; reinstall with "
        "`pip install --force-reinstall taskbook`, or pass a NOTEBOOK."
    )


def _check_jupyterlab() -> None:
    if importlib.util.find_spec("jupyterlab") is None:
        from kernel_ext._extras import missing_dependency

        raise missing_dependency(ModuleNotFoundError(name="jupyterlab"))


def _notebook_to_open(notebook: str | None, quickstart: bool) -> str | None:
    if notebook is not None:
        if not Path(notebook).exists():
            raise ConfigurationError(f"No notebook at {notebook}; check the path.")
        return notebook
    if not quickstart:
        return None
    if not Path(QUICKSTART).exists():
        shutil.copyfile(quickstart_notebook(), QUICKSTART)
        click.echo(f"Wrote the quick start to {Path(QUICKSTART).resolve()}.")
    return QUICKSTART


@cli.command()
@click.argument("notebook", required=False)
@click.option("--port", type=int, default=8888, show_default=True, help="JupyterLab's port.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option(
    "--quickstart/--no-quickstart",
    default=True,
    show_default=True,
    help=f"Without NOTEBOOK, open ./{QUICKSTART} (written there if missing).",
)
def lab(notebook: str | None, port: int, no_browser: bool, quickstart: bool) -> None:
    """Start JupyterLab, opening NOTEBOOK, and the scheduler and a worker (Ctrl-C stops)."""
    _check_jupyterlab()
    opened = _notebook_to_open(notebook, quickstart)
    lab_args = [sys.executable, "-m", "jupyterlab", f"--port={port}"]
    if opened:
        lab_args.append(opened)
    if no_browser:
        lab_args.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lab_args.append("--allow-root")  # containers often run as root
    ended, code = _run_together(lab_args)
    click.echo("Stopped JupyterLab and the scheduler.")
    if ended:
        raise click.ClickException(f"{ended} exited with status {code}; see its output above.")


def _run_together(lab_args: list[str]) -> tuple[str | None, int]:
    """Run JupyterLab and ``taskbook serve`` until either ends or we are asked to stop;
    returns which one failed on its own and its exit status (None, 0: all went well)."""
    # Own sessions: a Ctrl-C in the terminal reaches only this process, which then stops
    # both with SIGTERM (JupyterLab would otherwise ask for confirmation).
    serve = subprocess.Popen(
        [sys.executable, "-m", "papermill_bridge.cli", "serve"], start_new_session=True
    )
    jupyter = subprocess.Popen(lab_args, start_new_session=True)
    stopping = {"now": False}

    def stop(_signum: int, _frame: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping["now"] and serve.poll() is None and jupyter.poll() is None:
        time.sleep(0.2)
    # Which one ended on its own (none, when we were asked to stop), and how.
    first = None if stopping["now"] else (jupyter if jupyter.poll() is not None else serve)
    for child in (jupyter, serve):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in (jupyter, serve):
        child.wait(timeout=60)
    if first is None or (first is jupyter and first.returncode == 0):
        return None, 0  # stopped by us, or JupyterLab shut down from its File menu
    if first is jupyter:
        return "JupyterLab", first.returncode
    return "The scheduler (taskbook serve)", first.returncode or 1
