"""``%%task`` in a real IPython shell: runs, records, caches, retries, and bad input."""

from __future__ import annotations

from typing import Any

import pytest


def run(shell: Any, source: str) -> Any:
    return shell.run_cell(source, store_history=True)


def tasks(shell: Any) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in shell.run_line_magic("tasks", "--json")}


def session_run(shell: Any) -> dict[str, Any]:
    from kernel_ext.store import get_store

    store = get_store()
    store.flush()
    (run_row,) = store.list_flow_runs()
    return store.read_flow_run(run_row["id"])  # type: ignore[no-any-return]


def test_a_task_cell_runs_in_the_namespace_and_is_recorded(shell: Any, capsys: Any) -> None:
    run(shell, "source = 'abc'")
    result = run(shell, "%%task fetch\nraw = source.upper()\nprint('fetched', raw)\nlen(raw)")
    assert result.success and result.result == 3
    assert shell.user_ns["raw"] == "ABC"
    assert "fetched ABC" in capsys.readouterr().out
    flow_run = session_run(shell)
    assert flow_run["state"] == "Running" and flow_run["tags"] == ["interactive"]
    (task_run,) = flow_run["task_runs"]
    assert task_run["name"] == "fetch-0" and task_run["state"] == "Completed"


def test_edges_come_from_the_code(shell: Any) -> None:
    run(shell, "%%task load\nrows = [' a ', ' b ']")
    run(shell, "%%task clean\ncleaned = [r.strip() for r in rows]")
    run(shell, "%%task count\nn = len(cleaned) + len(rows)")
    graph = tasks(shell)
    assert graph["clean"]["inputs"] == ["rows"] and graph["clean"]["outputs"] == ["cleaned"]
    assert graph["count"]["inputs"] == ["cleaned", "rows"]
    runs = {t["name"]: t for t in session_run(shell)["task_runs"]}
    assert runs["clean-0"]["upstream"] == [runs["load-0"]["id"]]
    assert set(runs["count-0"]["upstream"]) == {runs["load-0"]["id"], runs["clean-0"]["id"]}


def test_prints_are_stored_as_logs(shell: Any) -> None:
    from kernel_ext.store import get_store

    run(shell, "%%task talk\nprint('hello from a cell')")
    flow_run = session_run(shell)
    messages = [e["message"] for e in get_store().read_logs(flow_run["id"])]
    assert "hello from a cell" in messages


def test_rerunning_upstream_with_a_new_value_marks_downstream_stale(shell: Any) -> None:
    run(shell, "%%task a\nx = 1")
    run(shell, "%%task b\ny = x + 1")
    run(shell, "%%task c\nz = y * 10")
    run(shell, "%%task a\nx = 1")
    assert not any(t["stale"] for t in tasks(shell).values())  # same value: nothing stale
    run(shell, "%%task a\nx = 5")
    graph = tasks(shell)
    assert graph["b"]["stale"] and graph["c"]["stale"]
    run(shell, "%tasks rerun-stale")
    assert shell.user_ns["z"] == 60
    assert not any(t["stale"] for t in tasks(shell).values())


def test_cache_hit_restores_outputs_without_running(shell: Any, capsys: Any) -> None:
    run(shell, "base = 3")
    cell = "%%task square --cache\nprint('BODY RAN')\nsquared = base ** 2\nimport math"
    run(shell, cell)
    run(shell, "del squared")
    run(shell, cell)
    out = capsys.readouterr().out
    assert shell.user_ns["squared"] == 9 and out.count("BODY RAN") == 1
    assert "restored math, squared without running" in out
    run(shell, "base = 4")
    run(shell, cell)
    assert shell.user_ns["squared"] == 16 and capsys.readouterr().out.count("BODY RAN") == 1
    states = [t["state"] for t in session_run(shell)["task_runs"]]
    assert states == ["Completed", "Cached", "Completed"]


def test_cache_ignores_comments_and_whitespace(shell: Any) -> None:
    run(shell, "%%task t --cache\nv = 40 + 2")
    run(shell, "%%task t --cache\n# the answer\nv = 40   +   2\n")
    assert [t["state"] for t in session_run(shell)["task_runs"]] == ["Completed", "Cached"]


def test_unhashable_input_runs_uncached_with_a_message(shell: Any, capsys: Any) -> None:
    run(shell, "import threading\nlock = threading.Lock()")
    result = run(shell, "%%task locked --cache\nwith lock:\n    got = 1")
    assert result.success and shell.user_ns["got"] == 1
    out = capsys.readouterr().out
    assert "Not cached: the value of 'lock' (lock) cannot be hashed" in out


def test_retries_rerun_the_body_and_show_the_last_traceback(shell: Any, capsys: Any) -> None:
    run(shell, "attempts = []")
    result = run(
        shell,
        "%%task flaky --retries 2 --retry-delay 0\nattempts.append(1)\n"
        "raise ValueError(f'attempt {len(attempts)}')",
    )
    assert not result.success
    assert isinstance(result.error_in_exec, ValueError)
    assert len(shell.user_ns["attempts"]) == 3
    (task_run,) = session_run(shell)["task_runs"]
    assert task_run["state"] == "Failed" and task_run["run_count"] == 3


def test_retry_then_success(shell: Any) -> None:
    run(shell, "n = []")
    cell = "%%task ok --retries 3 --retry-delay 0\nn.append(1)\nassert len(n) > 1\ndone = True"
    assert run(shell, cell).success
    assert shell.user_ns["done"] is True


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%%task x --retries -1", "--retries must be a whole number"),
        ("%%task x --retry-delay 1,-5", "--retry-delay must be seconds >= 0"),
        ("%%task x --cache-expiration soon", "is not a duration"),
        ("%%task x --timeout 0s", "must be more than zero"),
        ("%%task x --colour red", "unrecognized arguments: --colour red"),
        ("%%task 9lives", "the name '9lives' is not valid"),
    ],
)
def test_bad_options_print_usage_and_do_not_run(
    shell: Any, capsys: Any, line: str, message: str
) -> None:
    run(shell, "ran = False")
    result = run(shell, f"{line}\nran = True")
    assert shell.user_ns["ran"] is False
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert "Usage: %%task" in captured.err + captured.out
    assert run(shell, "1 + 1").result == 2  # the shell is healthy
    assert result.success is False or result.error_in_exec is None


def test_syntax_error_is_reported_like_python(shell: Any, capsys: Any) -> None:
    run(shell, "%%task broken\nx = (1,")
    captured = capsys.readouterr()
    assert "SyntaxError" in captured.out + captured.err
    assert tasks(shell) == {}


def test_timeout(shell: Any) -> None:
    result = run(shell, "%%task slow --timeout 200ms\nimport time\ntime.sleep(3)")
    assert not result.success
    (task_run,) = session_run(shell)["task_runs"]
    assert task_run["state"] == "TimedOut"


def test_keyboard_interrupt_records_cancelled(shell: Any) -> None:
    result = run(shell, "%%task stop\nraise KeyboardInterrupt")
    assert not result.success
    (task_run,) = session_run(shell)["task_runs"]
    assert task_run["state"] == "Cancelled"
    assert run(shell, "%%task after\nfine = 1").success
    assert tasks(shell)["stop"]["state"] == "Cancelled"


def test_tasks_lists_cells(shell: Any, capsys: Any) -> None:
    run(shell, "%%task one\na = 1")
    capsys.readouterr()
    run(shell, "%tasks")
    out = capsys.readouterr().out
    assert "NAME" in out and "one" in out and "Completed" in out


def test_approvals_magic_shows_forms_that_resume_runs(
    shell: Any, capsys: Any, monkeypatch: Any
) -> None:
    """`%approvals` in another notebook: one form per paused run; answering resumes it."""
    from kernel_ext import _display
    from kernel_ext.store import get_store

    shown: list[Any] = []
    monkeypatch.setattr(_display, "in_notebook", lambda: True)
    monkeypatch.setattr(_display, "_display", shown.append)
    store = get_store()
    request = store.create_input_request(
        id="req-1",
        flow_run_id="run-1",
        key="review",
        description=None,
        timeout_at=None,
        schema={
            "type": "object",
            "properties": {"approved": {"type": "boolean"}},
            "required": ["approved"],
        },
    )
    run(shell, "%approvals")
    assert "review" in capsys.readouterr().out
    (form,) = shown
    assert form.request["id"] == request["id"]
    form._on_message(form, {"type": "answer", "answer": {"approved": "no"}}, [])
    assert store.read_input_request("req-1")["status"] == "pending"
    form._on_message(form, {"type": "answer", "answer": {"approved": True}}, [])
    assert store.read_input_request("req-1")["status"] == "answered"


def test_graph_magic(shell: Any) -> None:
    from kernel_ext.widgets import RunGraph

    run(shell, "%%task a\nx = 1")
    run(shell, "%%task b\ny = x + 1")
    live = shell.run_line_magic("graph", "")
    assert isinstance(live, RunGraph)
    session_id = session_run(shell)["id"]
    past = shell.run_line_magic("graph", session_id[:8])
    names = {n["name"] for n in past.graph["nodes"]}
    assert {"a-0", "b-0"} <= names
    live.close()


def test_a_rejected_approval_fails_the_cell(shell: Any) -> None:
    import threading
    import time as clock

    from kernel_ext import approvals

    def reject_when_asked() -> None:
        deadline = clock.monotonic() + 20
        while not approvals.pending() and clock.monotonic() < deadline:
            clock.sleep(0.05)
        approvals.reject(approvals.pending()[0]["id"], "no")

    thread = threading.Thread(target=reject_when_asked, daemon=True)
    thread.start()
    result = run(
        shell,
        "%%task gate\nfrom kernel_ext import pause_flow_run\n"
        "pause_flow_run(timeout=30, poll_interval=0.05)",
    )
    thread.join()
    assert not result.success  # Run All stops at a rejected gate
    assert tasks(shell)["gate"]["state"] == "Cancelled"
    assert session_run(shell)["state"] == "Running"  # the session is no longer Paused
