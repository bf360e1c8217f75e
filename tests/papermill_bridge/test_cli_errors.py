"""The CLI off the happy path: every mistake gets one line that says what to do, and a
non-zero exit status; nothing prints a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kernel_ext import flow, pause_flow_run, task
from kernel_ext.testing import taskbook_test_harness
from papermill_bridge.cli import cli
from tests.papermill_bridge.test_cli import taskbook


@pytest.fixture(scope="module")
def runs_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-errors")
    taskbook(home, "demo")
    with taskbook_test_harness(store_url=f"sqlite:///{home / 'taskbook.db'}"):

        @task
        def broken() -> None:
            raise ValueError("no data")

        @flow
        def nightly() -> None:
            broken()

        nightly(return_state=True)
    return home


def one_error_line(done: Any) -> str:
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    return str(line)


@pytest.mark.parametrize("spelling", ["failed", "FAILED", "Failed"])
def test_a_state_filter_takes_any_case(runs_home: Path, spelling: str) -> None:
    listed = json.loads(taskbook(runs_home, "runs", "ls", "--state", spelling, "--json").stdout)
    assert [r["flow_name"] for r in listed] == ["nightly"]


def test_an_unknown_state_is_refused_with_the_states(runs_home: Path) -> None:
    line = one_error_line(taskbook(runs_home, "runs", "ls", "--state", "broken", check=False))
    assert line.startswith("Error: Unknown state 'broken'; use one of Scheduled, Late,")


def test_a_filter_that_matches_nothing_says_so(runs_home: Path) -> None:
    done = taskbook(runs_home, "runs", "ls", "--state", "Crashed")
    assert done.stdout.strip() == "No flow runs match; `taskbook runs ls` lists them all."


def test_cancelling_a_finished_run_is_refused(runs_home: Path) -> None:
    (run,) = json.loads(taskbook(runs_home, "runs", "ls", "--flow", "nightly", "--json").stdout)
    line = one_error_line(taskbook(runs_home, "runs", "cancel", run["id"][:8], check=False))
    assert line == (
        f"Error: Run {run['id'][:8]} is already Failed; only a run that has not finished can "
        "be cancelled."
    )


def test_show_takes_a_task_run_id(runs_home: Path) -> None:
    (run,) = json.loads(taskbook(runs_home, "runs", "ls", "--flow", "nightly", "--json").stdout)
    (task_run,) = json.loads(taskbook(runs_home, "runs", "show", run["id"], "--json").stdout)[
        "task_runs"
    ]
    shown = taskbook(runs_home, "runs", "show", task_run["id"][:10]).stdout
    assert shown.startswith(f"Task run broken-0 ({task_run['id']})")
    assert f"flow run:   {run['name']} ({run['id'][:8]}, flow nightly)" in shown
    assert "state:      Failed" in shown
    assert "exception:  ValueError" in shown
    assert 'raise ValueError("no data")' in shown  # the traceback
    as_json = json.loads(taskbook(runs_home, "runs", "show", task_run["id"], "--json").stdout)
    assert as_json["failure"]["exception_type"] == "ValueError"


def test_resume_without_an_answer_shows_its_shape(tmp_path: Path) -> None:
    import threading

    from kernel_ext import RunInput

    class Review(RunInput):
        approved: bool
        note: str = ""

    with taskbook_test_harness(store_url=f"sqlite:///{tmp_path / 'taskbook.db'}"):
        from kernel_ext import approvals

        @flow
        def publish() -> bool:
            return pause_flow_run(wait_for_input=Review, timeout=60, key="ship").approved

        outcome: list[Any] = []
        thread = threading.Thread(target=lambda: outcome.append(publish()))
        thread.start()
        request = _pending(approvals)
        done = taskbook(tmp_path, "runs", "resume", request["flow_run_id"][:8], check=False)
        approvals.answer(request["id"], {"approved": True})
        thread.join(timeout=30)
    line = one_error_line(done)
    assert line == (
        """Error: This pause asks for approved, note: give them with --input """
        """'{"approved": true, "note": ""}' (or reject it)."""
    )
    assert outcome == [True]


def _pending(approvals: Any) -> Any:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pending = approvals.pending()
        if pending:
            return pending[0]
        time.sleep(0.05)
    raise AssertionError("the flow never paused")


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (
            "psycopg",
            "Error: Taskbook needs the Python module 'psycopg', which is not installed: "
            "install it with `pip install 'taskbook[postgres]'`.",
        ),
        (
            "papermill",
            "Error: Taskbook needs the Python module 'papermill', which is not installed "
            "(the default install brings it): install it with "
            "`pip install --force-reinstall taskbook`.",
        ),
    ],
)
def test_a_missing_module_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, module: str, expected: str
) -> None:
    import papermill_bridge as promote_module

    def missing(*_args: Any, **_kwargs: Any) -> Any:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(promote_module, "promote", missing)
    done = CliRunner().invoke(cli, ["deploy", "x.ipynb", "--name", "x"])
    assert done.exit_code == 1
    assert done.output.strip() == expected


def test_an_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill_bridge as promote_module

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("kernelspec")

    monkeypatch.setattr(promote_module, "promote", broken)
    monkeypatch.delenv("TASKBOOK_DEBUG", raising=False)
    done = CliRunner().invoke(cli, ["deploy", "x.ipynb", "--name", "x"])
    assert done.exit_code == 1
    assert done.output.strip() == (
        "Error: KeyError: 'kernelspec' (an unexpected error; run again with TASKBOOK_DEBUG=1 "
        "for the traceback, and report it)"
    )
    monkeypatch.setenv("TASKBOOK_DEBUG", "1")
    debugged = CliRunner().invoke(cli, ["deploy", "x.ipynb", "--name", "x"])
    assert isinstance(debugged.exception, KeyError)


def test_lab_without_jupyterlab_fails_with_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "jupyterlab" else real(name, *a),
    )
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["lab", "--no-browser"])
    assert done.exit_code == 1
    assert "'jupyterlab', which is not installed" in done.output
    assert "Stopped" not in done.output
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing started


def test_lab_refuses_a_missing_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["lab", "nope.ipynb"])
    assert done.exit_code == 1
    assert done.output.strip() == "Error: No notebook at nope.ipynb; check the path."
