"""The root command group, the one place where errors become messages, and lazy commands.

Each command's module is imported when the command is looked up (``LazyGroup``):
``taskbook runs ls`` loads ``_runs`` alone, not the module of every other command.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from kernel_ext import __version__
from kernel_ext._errors import TaskbookError

__all__ = ["COMMANDS", "DEBUG_ENV", "LazyGroup", "cli", "echo_json", "json_option"]

DEBUG_ENV = "TASKBOOK_DEBUG"

# Each command of ``taskbook`` and the module of this package that defines it (the
# sub-commands that other modules add to a group are in that group's ``lazy``); a test
# keeps this table equal to what the modules register.
COMMANDS = {
    "approvals": "_approvals",
    "artifacts": "_artifacts",
    "automations": "_automations",
    "backfill": "_deployments",
    "demo": "_demo",
    "deploy": "_deployments",
    "deployments": "_deployment_commands",
    "events": "_events",
    "lab": "_lab",
    "limits": "_limits",
    "run": "_deployments",
    "runs": "_runs",
    "secrets": "_secrets",
    "serve": "_deployments",
    "store": "_store",
    "variables": "_secrets",
    "worker": "_deployments",
}


class LazyGroup(click.Group):
    """A group whose commands (``lazy``: name -> module of this package) are imported when
    looked up: to run one, or for ``--help`` and completion, which list them all."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self.lazy.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"papermill_bridge.cli.{module}")  # registers it
        return super().get_command(ctx, cmd_name)


class _TaskbookGroup(LazyGroup):
    """Turns every error into one ``Error: ...`` line and exit status 1.

    Taskbook's own errors say what to do; a missing module says which ``pip install``
    brings it; anything else is named with its type, and ``TASKBOOK_DEBUG=1`` shows the
    traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, EOFError):
            raise  # click's own, and what click turns into "Aborted!"
        except TaskbookError as error:
            raise click.ClickException(str(error)) from error
        except ModuleNotFoundError as error:
            from kernel_ext._extras import missing_dependency

            raise click.ClickException(str(missing_dependency(error))) from error
        except Exception as error:
            if isinstance(error, OSError) and error.errno == errno.EPIPE:
                raise  # `taskbook ... | head`: click exits quietly
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            raise click.ClickException(
                f"{type(error).__name__}: {error} (an unexpected error; run again with "
                f"{DEBUG_ENV}=1 for the traceback, and report it)"
            ) from error


@click.group(
    cls=_TaskbookGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="taskbook")
def cli() -> None:
    """Taskbook: notebook-native workflow orchestration.

    State lives in one store: a SQLite file in TASKBOOK_HOME by default, or the
    database at TASKBOOK_STORE_URL (e.g. postgresql+psycopg://user@host/db).
    """


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        fn
    )


def echo_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
