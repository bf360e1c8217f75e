"""The root command group and the one place where errors become messages."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from kernel_ext import __version__
from kernel_ext._errors import TaskbookError

__all__ = ["cli", "echo_json", "json_option"]


class _TaskbookGroup(click.Group):
    """Turns Taskbook's errors into ``Error: ...`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TaskbookError as error:
            raise click.ClickException(str(error)) from error


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
