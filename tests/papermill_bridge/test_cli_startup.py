"""What a ``taskbook`` command loads before it runs: its own module, not every command's."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import click

import papermill_bridge.cli
from papermill_bridge.cli._app import COMMANDS, LazyGroup, cli
from tests.store.helpers import QUERY_MODULES, modules_after

# Heavy packages no command needs before it runs; each loads inside the code that uses it.
HEAVY = {
    "alembic",
    "anyio",
    "apprise",
    "cryptography",
    "fsspec",
    "httpx",
    "IPython",
    "jinja2",
    "nbformat",
    "opentelemetry",
    "papermill",
    "pydantic",
    "tornado",
    "yaml",
}


RUNS_LS = """\
from papermill_bridge.cli import main
try:
    main(["runs", "ls"])
except SystemExit as done:
    assert done.code == 0, done.code"""


def test_the_commands_table_is_what_the_modules_register() -> None:
    for module in pkgutil.iter_modules(papermill_bridge.cli.__path__):
        if module.name != "__main__":  # that one runs the command line
            importlib.import_module(f"papermill_bridge.cli.{module.name}")
    assert set(COMMANDS) == set(cli.commands)
    for name, command in cli.commands.items():
        assert command.callback is not None
        assert command.callback.__module__ == f"papermill_bridge.cli.{COMMANDS[name]}", name
        if isinstance(command, click.Group):
            home = command.callback.__module__
            elsewhere = {
                sub: child.callback.__module__.rsplit(".", 1)[1]
                for sub, child in command.commands.items()
                if child.callback is not None and child.callback.__module__ != home
            }
            lazy = command.lazy if isinstance(command, LazyGroup) else {}
            assert lazy == elsewhere, name


def test_runs_ls_loads_only_its_own_command(tmp_path: Path) -> None:
    modules = modules_after(RUNS_LS, tmp_path)
    cli_modules = {m for m in modules if m.startswith("papermill_bridge.cli.")}
    assert cli_modules == {
        "papermill_bridge.cli._app",
        "papermill_bridge.cli._format",
        "papermill_bridge.cli._runs",
    }
    assert HEAVY.isdisjoint({m.split(".")[0] for m in modules})


def test_runs_ls_loads_none_of_the_stores_other_queries(tmp_path: Path) -> None:
    modules = modules_after(RUNS_LS, tmp_path)
    store = {m.rsplit(".", 1)[1] for m in modules if m.startswith("kernel_ext.store.")}
    for queries in QUERY_MODULES:
        assert queries not in store
    assert "_reads" in store  # what it does need


def test_a_sqlite_store_does_not_import_postgresqls_dialect(tmp_path: Path) -> None:
    modules = modules_after(RUNS_LS, tmp_path)
    assert "sqlalchemy.dialects.sqlite" in modules
    assert "sqlalchemy.dialects.postgresql" not in modules
