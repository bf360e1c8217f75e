"""The ``taskbook`` command line.

Every command has ``--help``; every command that prints data has ``--json`` for scripts.
Errors from Taskbook become one-line messages with exit status 1, mapped in one place
(``_TaskbookGroup``), never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from papermill_bridge.cli._app import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``taskbook`` console script."""
    return cli.main(args=argv, prog_name="taskbook")


# Sub-command modules register themselves on ``cli`` when imported.
from papermill_bridge.cli import (  # noqa: E402, F401
    _approvals,
    _artifacts,
    _automations,
    _demo,
    _deployment_commands,
    _deployments,
    _events,
    _lab,
    _limits,
    _runs,
    _secrets,
    _store,
)

del click
