"""``%promote``: promote the notebook you are in, from inside it.

    %promote NAME [--cron EXPR --timezone TZ | --interval 15m] [-p KEY=VALUE ...] [--tag T]

It promotes the *saved* notebook file (save first), exactly as ``taskbook deploy`` does.
In a deployment run (headless) it does nothing but say so in the output notebook; so in
a kernel that papermill or nbconvert started, which is not told its notebook's path.
Registered by ``%load_ext kernel_ext`` through the ``taskbook.magics`` entry point, so the
runtime does not import the deployments layer.
"""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["register"]


def register(shell: Any) -> None:
    shell.register_magic_function(_promote, magic_kind="line", magic_name="promote")


def _promote(line: str) -> None:
    """Promote this notebook's saved file to a deployment; same options as `taskbook deploy`.

    %promote NAME [--cron EXPR --timezone TZ | --interval 15m] [-p KEY=VALUE ...] [--tag T]
    """
    from IPython import get_ipython
    from IPython.core.error import UsageError

    from kernel_ext.cells._session import notebook_path
    from kernel_ext.deployment import skipped_headless
    from papermill_bridge.cli import cli

    if skipped_headless("%promote", "it promotes the notebook you edit, not a run of it"):
        return
    words = shlex.split(line)
    if not words or words[0].startswith("-"):
        raise UsageError(
            "Usage: %promote NAME [--cron EXPR --timezone TZ | --interval 15m] "
            "[-p KEY=VALUE ...] [--tag T]"
        )
    shell = get_ipython()
    path = notebook_path(shell.user_ns if shell is not None else {})
    if path is None and getattr(shell, "kernel", None) is not None:
        # A kernel that no Jupyter server session told its notebook: executed headless
        # (papermill, nbconvert), where the rest of the notebook should still run.
        print(
            "[taskbook] %promote skipped: this kernel was not told which notebook it runs "
            "(JupyterLab tells it; papermill, nbconvert and consoles do not). Run "
            "`taskbook deploy NOTEBOOK --name NAME`, or set TASKBOOK_NOTEBOOK_PATH to the "
            "notebook's file."
        )
        return
    if path is None:
        raise UsageError(
            "%promote needs the notebook's path, which this kernel was not told; run "
            "`taskbook deploy NOTEBOOK --name NAME` in a terminal instead."
        )
    try:
        cli.main(["deploy", path, "--name", *words], prog_name="%promote", standalone_mode=False)
    except Exception as error:  # click and Taskbook errors: show them as a usage problem
        raise UsageError(str(error)) from None
