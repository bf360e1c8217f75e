"""The ``taskbook`` command line.

Every command has ``--help``; every command that prints data has ``--json`` for scripts.
Errors from Taskbook become one-line messages with exit status 1, mapped in one place
(``_TaskbookGroup``), never a traceback. Each command's module loads when the command is
looked up (``COMMANDS`` in ``_app``), so a command pays only for its own imports.
"""

from __future__ import annotations

import atexit
import gc
from typing import Any

from papermill_bridge.cli._app import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``taskbook`` console script.

    Once the command is done and the exit hooks have run (the store's flush among them),
    the objects left are frozen: the collector would otherwise scan every one of them
    (SQLAlchemy's hundreds of thousands) in its passes while the interpreter shuts down,
    some 40 ms of a ``taskbook runs ls``, to free memory the OS takes back anyway.
    """
    atexit.register(gc.freeze)  # before the store registers its hooks: runs after them
    return cli.main(args=argv, prog_name="taskbook")
