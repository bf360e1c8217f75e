"""What a ``taskbook`` command loads before it runs: its own module, not every command's."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click

import papermill_bridge.cli
from papermill_bridge.cli._app import COMMANDS, LazyGroup, cli

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


def _modules_after(code: str, home: Path) -> set[str]:
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    env.pop("TASKBOOK_STORE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


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
    modules = _modules_after(RUNS_LS, tmp_path)
    cli_modules = {m for m in modules if m.startswith("papermill_bridge.cli.")}
    assert cli_modules == {
        "papermill_bridge.cli._app",
        "papermill_bridge.cli._format",
        "papermill_bridge.cli._runs",
    }
    assert HEAVY.isdisjoint({m.split(".")[0] for m in modules})


def test_runs_ls_loads_none_of_the_stores_other_queries(tmp_path: Path) -> None:
    modules = _modules_after(RUNS_LS, tmp_path)
    store = {m.rsplit(".", 1)[1] for m in modules if m.startswith("kernel_ext.store.")}
    for queries in (
        "_artifact_rows",
        "_automation_evaluator",
        "_automation_rows",
        "_claims",
        "_deployment_runs",
        "_deployments",
        "_event_reads",
        "_event_writes",
        "_input_requests",
        "_limit_leases",
        "_metrics_reads",
        "_retention",
        "_run_admin",
        "_schedules",
        "_vault",
    ):
        assert queries not in store
    assert "_reads" in store  # what it does need


def test_a_sqlite_store_does_not_import_postgresqls_dialect(tmp_path: Path) -> None:
    modules = _modules_after(RUNS_LS, tmp_path)
    assert "sqlalchemy.dialects.sqlite" in modules
    assert "sqlalchemy.dialects.postgresql" not in modules
