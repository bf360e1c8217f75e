"""Run names and run logs as Prefect 3 has them (tests/test_flows.py ``TestFlowRunName``,
tests/test_tasks.py ``TestTaskRunName``/``TestTaskRunLogs``, in our words): templated and
callable run names, invalid names, run loggers and ``log_prints``."""

from __future__ import annotations

from typing import Any

import pytest


def test_run_names_from_templates(pf: Any) -> None:
    @pf.task(task_run_name="task-{x}-{y}")
    def my_task(x: int, y: str = "b") -> str:
        return pf.context.get_run_context().task_run.name

    @pf.flow(flow_run_name="run-{x}")
    def my_flow(x: int) -> Any:
        return pf.context.get_run_context().flow_run.name, my_task(x)

    assert my_flow(3) == ("run-3", "task-3-b")


def test_run_names_from_callables_without_arguments(pf: Any) -> None:
    @pf.task(task_run_name=lambda: "task-from-callable")
    def my_task() -> str:
        return pf.runtime.task_run.name

    @pf.flow(flow_run_name=lambda: "flow-from-callable")
    def my_flow() -> Any:
        return pf.runtime.flow_run.name, my_task()

    assert my_flow() == ("flow-from-callable", "task-from-callable")


def test_run_name_callables_can_read_the_runtime_parameters(pf: Any) -> None:
    def task_name() -> str:
        return f"{pf.runtime.task_run.task_name}-{pf.runtime.task_run.parameters['x']}"

    def flow_name() -> str:
        return f"{pf.runtime.flow_run.flow_name}-{pf.runtime.flow_run.parameters['x']}"

    @pf.task(task_run_name=task_name)
    def my_task(x: int) -> str:
        return pf.runtime.task_run.name

    @pf.flow(flow_run_name=flow_name)
    def my_flow(x: int) -> Any:
        return pf.runtime.flow_run.name, my_task(x + 1)

    assert my_flow(1) == ("my-flow-1", "my_task-2")


def test_default_names(pf: Any) -> None:
    @pf.flow
    def my_flow() -> None:
        pass

    @pf.task
    def my_task() -> None:
        pass

    assert my_flow.name == "my-flow"
    assert my_task.name == "my_task"


def test_a_flow_run_name_template_with_an_unknown_field_raises_at_the_call(pf: Any) -> None:
    @pf.flow(flow_run_name="run-{missing}")
    def my_flow(x: int) -> int:
        return x

    with pytest.raises(KeyError):
        my_flow(1, return_state=True)  # not a Failed state: the run never starts


def test_a_task_run_name_template_with_an_unknown_field_fails_the_flow(pf: Any) -> None:
    @pf.task(task_run_name="task-{missing}")
    def my_task(x: int) -> int:
        return x

    @pf.flow
    def my_flow() -> Any:
        return my_task(1, return_state=True)

    state = my_flow(return_state=True)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), KeyError)


@pytest.mark.parametrize("decorator", ["flow", "task"])
def test_a_run_name_must_be_a_string_or_callable(pf: Any, decorator: str) -> None:
    option = "flow_run_name" if decorator == "flow" else "task_run_name"

    def fn() -> None:
        pass

    with pytest.raises(TypeError):
        getattr(pf, decorator)(**{option: 123})(fn)


@pytest.mark.parametrize("name", ["a/b", "a%b", "a&b", "a>b", "a<b"])
def test_flow_names_with_banned_characters_raise(pf: Any, name: str) -> None:
    def fn() -> None:
        pass

    with pytest.raises(pf.exceptions.InvalidNameError):
        pf.flow(name=name)(fn)


# --- run loggers ------------------------------------------------------------------------


def test_run_loggers_write_to_the_flow_and_task_run_loggers(pf: Any, run_logs: Any) -> None:
    @pf.task
    def my_task() -> None:
        pf.get_run_logger().info("hello from the task")

    @pf.flow
    def my_flow() -> None:
        pf.get_run_logger().warning("hello from the flow")
        my_task()

    my_flow()
    assert "hello from the task" in run_logs.messages("prefect.task_runs")
    assert "hello from the flow" in run_logs.messages("prefect.flow_runs")


def test_no_run_logger_or_context_outside_a_run(pf: Any) -> None:
    with pytest.raises(pf.exceptions.MissingContextError):
        pf.get_run_logger()
    with pytest.raises(pf.exceptions.MissingContextError):
        pf.context.get_run_context()


# --- log_prints -------------------------------------------------------------------------


def test_a_task_with_log_prints_in_a_flow_without_it(pf: Any, run_logs: Any, capsys: Any) -> None:
    @pf.task(log_prints=True)
    def my_task() -> None:
        print("printed by the task")

    @pf.flow
    def my_flow() -> None:
        print("printed by the flow")
        my_task()

    my_flow()
    records = [r for r in run_logs.records if "printed by" in r.getMessage()]
    assert [(r.name, r.levelname, r.getMessage()) for r in records] == [
        ("prefect.task_runs", "INFO", "printed by the task")
    ]
    assert "printed by the flow" in capsys.readouterr().out


def test_a_flow_with_log_prints_passes_it_to_its_tasks(pf: Any, run_logs: Any) -> None:
    @pf.task
    def inherits() -> None:
        print("inherited")

    @pf.task(log_prints=False)
    def opts_out() -> None:
        print("opted out")

    @pf.flow(log_prints=True)
    def my_flow() -> None:
        print("from the flow")
        inherits()
        opts_out()

    my_flow()
    assert "from the flow" in run_logs.messages("prefect.flow_runs")
    assert "inherited" in run_logs.messages("prefect.task_runs")
    assert "opted out" not in run_logs.messages()


def test_print_is_not_captured_after_the_run(pf: Any, run_logs: Any, capsys: Any) -> None:
    @pf.flow(log_prints=True)
    def my_flow() -> None:
        print("during")

    my_flow()
    print("after the run")
    assert "after the run" not in run_logs.messages()
    assert "after the run" in capsys.readouterr().out
