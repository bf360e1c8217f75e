"""The root command group and the one place where errors become messages."""

from __future__ import annotations

import errno
import json
import os
import sys
from typing import Any

import click

from kernel_ext import __version__
from kernel_ext._errors import TaskbookError

__all__ = ["DEBUG_ENV", "cli", "echo_json", "json_option"]

DEBUG_ENV = "TASKBOOK_DEBUG"


class _TaskbookGroup(click.Group):
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


@click.group(cls=_TaskbookGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
