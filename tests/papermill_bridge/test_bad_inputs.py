"""Bad input, table-driven: each gets one line that says what to do, a non-zero exit
status, and nothing stored."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from kernel_ext import ConfigurationError, task
from kernel_ext.cells._options import parse_options
from tests.papermill_bridge.test_cli import taskbook

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "cells_as_tasks.ipynb"

# (what is wrong, the CLI arguments, the start of the one error line)
CLI_CASES = [
    (
        "interval overflows",
        ["deploy", "{nb}", "--name", "x", "--interval", "99999999999d"],
        "Error: interval '99999999999d' is longer than ten years",
    ),
    (
        "timezone without a schedule",
        ["deploy", "{nb}", "--name", "x", "--timezone", "UTC"],
        "Error: --timezone applies to a schedule",
    ),
    ("name '..'", ["deploy", "{nb}", "--name", ".."], "Error: Deployment name '..' is not valid"),
    ("name '.'", ["deploy", "{nb}", "--name", "."], "Error: Deployment name '.' is not valid"),
    ("name '-x'", ["deploy", "{nb}", "--name=-x"], "Error: Deployment name '-x' is not valid"),
    (
        "JSON that is no notebook",
        ["deploy", "{json}", "--name", "x"],
        "Error: {json} is JSON but not a notebook",
    ),
    (
        "binary bytes",
        ["deploy", "{binary}", "--name", "x"],
        "Error: {binary} is not a notebook (not UTF-8 JSON)",
    ),
    ("a folder", ["deploy", "{folder}", "--name", "x"], "Error: {folder} is a folder"),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "json.ipynb").write_text(json.dumps({"a": 1}))
    (tmp_path / "binary.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "folder.ipynb").mkdir()
    named = {name: str(tmp_path / f"{name}.ipynb") for name in ("json", "binary", "folder")}
    return {"nb": str(NOTEBOOK), **named}


@pytest.mark.parametrize(("case", "args", "error"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_input(
    tmp_path: Path, files: dict[str, str], case: str, args: list[str], error: str
) -> None:
    home = tmp_path / "home"
    done = taskbook(home, *[a.format(**files) for a in args], check=False)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and lines[0].startswith(error.format(**files)), done.stderr
    listed = taskbook(home, "deployments", "ls", "--json").stdout
    assert json.loads(listed) == []  # nothing stored
    assert not (home / "outputs").exists()


def test_backfill_with_start_after_end(tmp_path: Path) -> None:
    taskbook(tmp_path, "deploy", str(NOTEBOOK), "--name", "x", "--interval", "1h")
    done = taskbook(
        tmp_path, "backfill", "x", "--start", "2026-03-08", "--end", "2026-03-01", check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: --start (2026-03-08 00:00) must be before --end (2026-03-01 00:00)."
    )
    assert json.loads(taskbook(tmp_path, "runs", "ls", "--json").stdout) == []


def test_a_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("")
    done = taskbook(home, "runs", "ls", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: TASKBOOK_HOME is {home}, which is a file, not a folder; point it at a folder "
        "(it is created if missing)."
    )


@pytest.mark.parametrize(
    "option",
    [
        {"retry_delay_seconds": math.nan},
        {"retry_delay_seconds": math.inf},
        {"retry_delay_seconds": [1, math.nan]},
        {"timeout_seconds": math.inf},
        {"timeout_seconds": math.nan},
        {"timeout_seconds": 1e30},
        {"cache_expiration": math.inf},
    ],
)
def test_bad_durations_fail_at_decoration(option: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="at most ten years"):
        task(retries=1, **option)(lambda: None)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("--retries ²", "--retries must be a whole number >= 0, got '²'"),
        ("--retry-delay nan", "--retry-delay must be seconds >= 0 and at most ten years"),
        ("--retry-delay inf", "--retry-delay must be seconds >= 0 and at most ten years"),
        ("--timeout 99999999999999999999999d", "--timeout must be more than zero and at most ten"),
    ],
)
def test_bad_task_cell_options(line: str, error: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_options(line)
    assert str(raised.value).startswith(error)


def test_a_foreign_sqlite_file_is_left_untouched(tmp_path: Path) -> None:
    import os
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE flow_runs (x)")
        connection.execute("CREATE TABLE customers (name)")
    connection.close()
    before = path.read_bytes()
    env = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path / "home"),
        "TASKBOOK_STORE_URL": f"sqlite:///{path}",
    }
    script = Path(sys.executable).with_name("taskbook")
    done = subprocess.run(
        [str(script), "runs", "ls"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: {path} is a SQLite database that Taskbook did not create (tables: customers, "
        "flow_runs); it was left untouched. Point TASKBOOK_STORE_URL (or TASKBOOK_HOME) at "
        "another file."
    )
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["crm.db"]  # no -wal, -shm, no lock
