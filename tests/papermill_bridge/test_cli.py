"""The ``taskbook`` CLI as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

COMMANDS = [
    [],
    ["runs"],
    ["runs", "ls"],
    ["runs", "show"],
    ["runs", "logs"],
    ["runs", "resume"],
    ["runs", "reject"],
    ["runs", "cancel"],
    ["approvals"],
    ["approvals", "ls"],
    ["demo"],
    ["store"],
    ["store", "info"],
    ["store", "prune"],
    ["store", "retention"],
    ["deploy"],
    ["deployments"],
    ["deployments", "ls"],
    ["deployments", "show"],
    ["deployments", "pause"],
    ["deployments", "resume"],
    ["deployments", "schedule"],
    ["deployments", "retention"],
    ["deployments", "delete"],
    ["run"],
    ["backfill"],
    ["worker"],
    ["serve"],
    ["lab"],
    ["limits"],
    ["limits", "set"],
    ["limits", "ls"],
    ["limits", "show"],
    ["limits", "reset"],
    ["limits", "delete"],
]


def taskbook(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "WARNING"}
    env.pop("TASKBOOK_STORE_URL", None)
    script = Path(sys.executable).with_name("taskbook")
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli")
    taskbook(home, "demo")
    taskbook(home, "demo", "--source", "station-9", "--count", "3")
    return home


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    out = taskbook(tmp_path, *command, "--help").stdout
    assert out.startswith("Usage: taskbook")


def test_runs_ls_json(demo_home: Path) -> None:
    runs: list[dict[str, Any]] = json.loads(taskbook(demo_home, "runs", "ls", "--json").stdout)
    assert len(runs) == 2
    assert {"id", "name", "state", "start_time", "end_time"} <= set(runs[0])
    assert runs[0]["parameters"] == {"source": "station-9", "count": 3}  # newest first
    assert {r["state"] for r in runs} == {"Completed"}


def test_runs_show_json_has_task_runs_with_upstream(demo_home: Path) -> None:
    latest = json.loads(taskbook(demo_home, "runs", "ls", "--json").stdout)[0]
    run = json.loads(taskbook(demo_home, "runs", "show", latest["id"][:8], "--json").stdout)
    names = {t["name"]: t for t in run["task_runs"]}
    assert set(names) == {"fetch-0", "clean-0", "clean-1", "clean-2", "summarize-0"}
    assert names["fetch-0"]["run_count"] == 2  # failed once, retried
    assert names["clean-1"]["upstream"] == [names["fetch-0"]["id"]]
    assert set(names["summarize-0"]["upstream"]) == {names[f"clean-{i}"]["id"] for i in range(3)}
    assert {"id", "name", "state", "upstream"} <= set(names["fetch-0"])


def test_runs_show_table(demo_home: Path) -> None:
    latest = json.loads(taskbook(demo_home, "runs", "ls", "--json").stdout)[0]
    out = taskbook(demo_home, "runs", "show", latest["id"]).stdout
    assert "fetch-0" in out and "Completed" in out and "UPSTREAM" in out


def test_runs_logs(demo_home: Path) -> None:
    latest = json.loads(taskbook(demo_home, "runs", "ls", "--json").stdout)[0]
    out = taskbook(demo_home, "runs", "logs", latest["id"][:6]).stdout
    assert "Summary of station-9" in out
    entries = json.loads(taskbook(demo_home, "runs", "logs", latest["id"], "--json").stdout)
    assert any("Summarizing 3 values" in e["message"] for e in entries)


def test_second_demo_gets_the_cached_summary(tmp_path: Path) -> None:
    taskbook(tmp_path, "demo")
    second = json.loads(taskbook(tmp_path, "demo", "--json").stdout)
    summary = next(t for t in second["run"]["task_runs"] if t["name"] == "summarize-0")
    assert summary["state"] == "Cached"


def test_unknown_run_id_is_a_clear_error(demo_home: Path) -> None:
    done = taskbook(demo_home, "runs", "show", "zzzz", check=False)
    assert done.returncode == 1
    assert "No run has an id starting with 'zzzz'" in done.stderr
    assert "Traceback" not in done.stderr


def test_empty_store_says_what_to_do(tmp_path: Path) -> None:
    assert "taskbook demo" in taskbook(tmp_path, "runs", "ls").stdout
    assert json.loads(taskbook(tmp_path, "runs", "ls", "--json").stdout) == []


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path),
        "TASKBOOK_STORE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    script = Path(sys.executable).with_name("taskbook")
    done = subprocess.run([str(script), "runs", "ls"], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "Cannot open the Taskbook store" in done.stderr
    assert "Traceback" not in done.stderr


def test_store_info_json(tmp_path: Path) -> None:
    info = json.loads(taskbook(tmp_path, "store", "info", "--json").stdout)
    assert info["home"] == str(tmp_path)
    assert info["store_url"].endswith("taskbook.db")
