"""``taskbook lab``: JupyterLab (with the Taskbook extension) and ``taskbook serve`` together.

Both run as child processes on the same store; Ctrl-C (or SIGTERM) stops both cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

from papermill_bridge.cli._app import cli

__all__ = ["lab"]


@cli.command()
@click.argument("notebook", required=False)
@click.option("--port", type=int, default=8888, show_default=True, help="JupyterLab's port.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
def lab(notebook: str | None, port: int, no_browser: bool) -> None:
    """Start JupyterLab, opening NOTEBOOK, and the scheduler and a worker (Ctrl-C stops)."""
    lab_args = [sys.executable, "-m", "jupyterlab", f"--port={port}"]
    if notebook:
        lab_args.append(notebook)
    if no_browser:
        lab_args.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lab_args.append("--allow-root")  # containers often run as root
    # Own sessions: a Ctrl-C in the terminal reaches only this process, which then stops
    # both with SIGTERM (JupyterLab would otherwise ask for confirmation).
    serve = subprocess.Popen([sys.executable, "-m", "papermill_bridge.cli", "serve"],
                             start_new_session=True)  # fmt: skip
    jupyter = subprocess.Popen(lab_args, start_new_session=True)
    stopping = {"now": False}

    def stop(_signum: int, _frame: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping["now"] and serve.poll() is None and jupyter.poll() is None:
        time.sleep(0.2)
    for child in (jupyter, serve):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in (jupyter, serve):
        child.wait(timeout=60)
    click.echo("Stopped JupyterLab and the scheduler.")
