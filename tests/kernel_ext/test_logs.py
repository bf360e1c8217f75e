from __future__ import annotations

from typing import Any

from kernel_ext import flow, get_run_logger, task
from tests.kernel_ext.helpers import last_flow_run


def test_run_logger_and_printed_lines_are_stored_per_run(store: Any) -> None:
    @task
    def talk() -> None:
        get_run_logger().warning("from the task")
        print("printed in task")

    @flow(log_prints=True)
    def chatty() -> None:
        get_run_logger().info("from the flow")
        talk()

    chatty()
    run = last_flow_run(store)
    logs = store.read_logs(run["id"])
    messages = [entry["message"] for entry in logs]
    assert "from the flow" in messages
    assert "from the task" in messages
    assert "printed in task" in messages
    task_id = run["task_runs"][0]["id"]
    assert {e["task_run_id"] for e in logs if e["message"] != "from the flow"} >= {task_id}


def test_prints_are_not_captured_without_log_prints(store: Any, capsys: Any) -> None:
    @flow
    def quiet() -> None:
        print("only on stdout")

    quiet()
    assert "only on stdout" in capsys.readouterr().out
    messages = [e["message"] for e in store.read_logs(last_flow_run(store)["id"])]
    assert "only on stdout" not in messages


def test_task_log_prints_overrides_the_flow(store: Any) -> None:
    @task(log_prints=False)
    def silent() -> None:
        print("not stored")

    @flow(log_prints=True)
    def loud() -> None:
        silent()

    loud()
    messages = [e["message"] for e in store.read_logs(last_flow_run(store)["id"])]
    assert "not stored" not in messages
