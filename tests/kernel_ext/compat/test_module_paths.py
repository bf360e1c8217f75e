"""``kernel_ext.compat`` mirrors Prefect's module paths: ``prefect.X`` is
``kernel_ext.compat.X``, and each name there is Taskbook's own object."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import kernel_ext.compat
from kernel_ext.compat import _hook

# (Prefect's module, name, Taskbook's object as "module:attribute")
EXPORTS = [
    ("prefect.artifacts", "acreate_image_artifact", "kernel_ext.artifacts:acreate_image_artifact"),
    ("prefect.artifacts", "acreate_link_artifact", "kernel_ext.artifacts:acreate_link_artifact"),
    (
        "prefect.artifacts",
        "acreate_markdown_artifact",
        "kernel_ext.artifacts:acreate_markdown_artifact",
    ),
    (
        "prefect.artifacts",
        "acreate_progress_artifact",
        "kernel_ext.artifacts:acreate_progress_artifact",
    ),
    ("prefect.artifacts", "acreate_table_artifact", "kernel_ext.artifacts:acreate_table_artifact"),
    (
        "prefect.artifacts",
        "aupdate_progress_artifact",
        "kernel_ext.artifacts:aupdate_progress_artifact",
    ),
    ("prefect.artifacts", "create_image_artifact", "kernel_ext.artifacts:create_image_artifact"),
    ("prefect.artifacts", "create_link_artifact", "kernel_ext.artifacts:create_link_artifact"),
    (
        "prefect.artifacts",
        "create_markdown_artifact",
        "kernel_ext.artifacts:create_markdown_artifact",
    ),
    (
        "prefect.artifacts",
        "create_progress_artifact",
        "kernel_ext.artifacts:create_progress_artifact",
    ),
    ("prefect.artifacts", "create_table_artifact", "kernel_ext.artifacts:create_table_artifact"),
    (
        "prefect.artifacts",
        "update_progress_artifact",
        "kernel_ext.artifacts:update_progress_artifact",
    ),
    ("prefect.blocks", "system", "kernel_ext.compat.blocks.system:__self__"),
    (
        "prefect.events.schemas",
        "automations",
        "kernel_ext.compat.events.schemas.automations:__self__",
    ),
    ("prefect.blocks.system", "Secret", "kernel_ext.secrets:Secret"),
    ("prefect.variables", "Variable", "kernel_ext.variables:Variable"),
    ("prefect.events", "emit_event", "kernel_ext.events:emit_event"),
    ("prefect.automations", "Automation", "kernel_ext.automations:Automation"),
    ("prefect.automations", "AutomationCore", "kernel_ext.automations:AutomationCore"),
    ("prefect.automations", "CancelFlowRun", "kernel_ext.automations:CancelFlowRun"),
    ("prefect.automations", "CompositeTrigger", "kernel_ext.automations:CompositeTrigger"),
    ("prefect.automations", "CompoundTrigger", "kernel_ext.automations:CompoundTrigger"),
    ("prefect.automations", "DoNothing", "kernel_ext.automations:DoNothing"),
    ("prefect.automations", "EventTrigger", "kernel_ext.automations:EventTrigger"),
    ("prefect.automations", "PauseAutomation", "kernel_ext.automations:PauseAutomation"),
    ("prefect.automations", "PauseDeployment", "kernel_ext.automations:PauseDeployment"),
    ("prefect.automations", "Posture", "kernel_ext.automations:Posture"),
    (
        "prefect.automations",
        "ResourceSpecification",
        "kernel_ext.automations:ResourceSpecification",
    ),
    ("prefect.automations", "ResourceTrigger", "kernel_ext.automations:ResourceTrigger"),
    ("prefect.automations", "ResumeAutomation", "kernel_ext.automations:ResumeAutomation"),
    ("prefect.automations", "ResumeDeployment", "kernel_ext.automations:ResumeDeployment"),
    ("prefect.automations", "ResumeFlowRun", "kernel_ext.automations:ResumeFlowRun"),
    ("prefect.automations", "RunDeployment", "kernel_ext.automations:RunDeployment"),
    ("prefect.automations", "SendNotification", "kernel_ext.automations:SendNotification"),
    ("prefect.automations", "SequenceTrigger", "kernel_ext.automations:SequenceTrigger"),
    ("prefect.automations", "SuspendFlowRun", "kernel_ext.automations:SuspendFlowRun"),
    ("prefect.automations", "Trigger", "kernel_ext.automations:Trigger"),
    ("prefect.events.actions", "Action", "kernel_ext.automations:Action"),
    ("prefect.events.actions", "ActionTypes", "kernel_ext.automations:ActionTypes"),
    ("prefect.events.actions", "CancelFlowRun", "kernel_ext.automations:CancelFlowRun"),
    ("prefect.events.actions", "DeploymentAction", "kernel_ext.automations:DeploymentAction"),
    ("prefect.events.actions", "DoNothing", "kernel_ext.automations:DoNothing"),
    ("prefect.events.actions", "PauseAutomation", "kernel_ext.automations:PauseAutomation"),
    ("prefect.events.actions", "PauseDeployment", "kernel_ext.automations:PauseDeployment"),
    ("prefect.events.actions", "ResumeAutomation", "kernel_ext.automations:ResumeAutomation"),
    ("prefect.events.actions", "ResumeDeployment", "kernel_ext.automations:ResumeDeployment"),
    ("prefect.events.actions", "ResumeFlowRun", "kernel_ext.automations:ResumeFlowRun"),
    ("prefect.events.actions", "RunDeployment", "kernel_ext.automations:RunDeployment"),
    ("prefect.events.actions", "SendNotification", "kernel_ext.automations:SendNotification"),
    ("prefect.events.actions", "SuspendFlowRun", "kernel_ext.automations:SuspendFlowRun"),
    ("prefect.events.schemas.automations", "Automation", "kernel_ext.automations:Automation"),
    (
        "prefect.events.schemas.automations",
        "AutomationCore",
        "kernel_ext.automations:AutomationCore",
    ),
    (
        "prefect.events.schemas.automations",
        "CompositeTrigger",
        "kernel_ext.automations:CompositeTrigger",
    ),
    (
        "prefect.events.schemas.automations",
        "CompoundTrigger",
        "kernel_ext.automations:CompoundTrigger",
    ),
    ("prefect.events.schemas.automations", "EventTrigger", "kernel_ext.automations:EventTrigger"),
    ("prefect.events.schemas.automations", "Posture", "kernel_ext.automations:Posture"),
    (
        "prefect.events.schemas.automations",
        "ResourceSpecification",
        "kernel_ext.automations:ResourceSpecification",
    ),
    (
        "prefect.events.schemas.automations",
        "ResourceTrigger",
        "kernel_ext.automations:ResourceTrigger",
    ),
    (
        "prefect.events.schemas.automations",
        "SequenceTrigger",
        "kernel_ext.automations:SequenceTrigger",
    ),
    ("prefect.events.schemas.automations", "Trigger", "kernel_ext.automations:Trigger"),
    ("prefect.events.schemas.automations", "TriggerTypes", "kernel_ext.automations:TriggerTypes"),
    ("prefect.events", "Event", "kernel_ext.events:Event"),
    ("prefect.events", "Resource", "kernel_ext.events:Resource"),
    ("prefect.events", "RelatedResource", "kernel_ext.events:RelatedResource"),
    ("prefect", "flow", "kernel_ext:flow"),
    ("prefect", "Flow", "kernel_ext:Flow"),
    ("prefect", "task", "kernel_ext:task"),
    ("prefect", "Task", "kernel_ext:Task"),
    ("prefect", "State", "kernel_ext:State"),
    ("prefect", "get_run_logger", "kernel_ext:get_run_logger"),
    ("prefect", "pause_flow_run", "kernel_ext:pause_flow_run"),
    ("prefect", "tags", "kernel_ext.context:tags"),
    ("prefect", "unmapped", "kernel_ext:unmapped"),
    ("prefect", "allow_failure", "kernel_ext._annotations:allow_failure"),
    ("prefect", "runtime", "kernel_ext.compat.runtime:__self__"),
    ("prefect", "Transaction", "kernel_ext.transactions:Transaction"),
    ("prefect.flows", "flow", "kernel_ext:flow"),
    ("prefect.flows", "Flow", "kernel_ext:Flow"),
    ("prefect.tasks", "task", "kernel_ext:task"),
    ("prefect.tasks", "Task", "kernel_ext:Task"),
    ("prefect.tasks", "exponential_backoff", "kernel_ext:exponential_backoff"),
    *[
        ("prefect.states", name, f"kernel_ext._states:{name}")
        for name in (
            "Completed",
            "Failed",
            "Crashed",
            "Cancelled",
            "Cancelling",
            "Pending",
            "Running",
            "Retrying",
            "Scheduled",
            "Late",
            "Paused",
            "Suspended",
            "AwaitingRetry",
            "AwaitingConcurrencySlot",
            "State",
            "StateType",
            "is_state_iterable",
        )
    ],
    ("prefect.states", "get_state_exception", "kernel_ext._states:state_exception"),
    ("prefect.futures", "PrefectFuture", "kernel_ext:TaskRunFuture"),
    ("prefect.futures", "PrefectConcurrentFuture", "kernel_ext:TaskRunFuture"),
    ("prefect.futures", "PrefectTaskRunFuture", "kernel_ext:TaskRunFuture"),
    ("prefect.futures", "PrefectDistributedFuture", "kernel_ext:TaskRunFuture"),
    ("prefect.futures", "PrefectFutureList", "kernel_ext:TaskRunFutureList"),
    ("prefect.futures", "wait", "kernel_ext:wait"),
    ("prefect.futures", "as_completed", "kernel_ext:as_completed"),
    ("prefect.task_runners", "ThreadPoolTaskRunner", "kernel_ext:ThreadPoolTaskRunner"),
    ("prefect.task_runners", "TaskRunner", "kernel_ext._runners:TaskRunner"),
    *[
        ("prefect.cache_policies", name, f"kernel_ext.cache_policies:{name}")
        for name in (
            "DEFAULT",
            "INPUTS",
            "TASK_SOURCE",
            "FLOW_PARAMETERS",
            "RUN_ID",
            "NONE",
            "CachePolicy",
            "Inputs",
            "CacheKeyFnPolicy",
            "CompoundCachePolicy",
            "FlowParameters",
            "RunId",
            "TaskSource",
        )
    ],
    ("prefect.cache_policies", "NO_CACHE", "kernel_ext.cache_policies:NONE"),
    ("prefect.tasks", "task_input_hash", "kernel_ext.cache_policies:task_input_hash"),
    *[
        ("prefect.transactions", name, f"kernel_ext.transactions:{name}")
        for name in (
            "transaction",
            "atransaction",
            "Transaction",
            "get_transaction",
            "CommitMode",
            "IsolationLevel",
            "TransactionState",
        )
    ],
    ("prefect.runtime", "flow_run", "kernel_ext.runtime:flow_run"),
    ("prefect.runtime", "task_run", "kernel_ext.runtime:task_run"),
    ("prefect.runtime", "deployment", "kernel_ext.runtime:deployment"),
    ("prefect.context", "get_run_context", "kernel_ext.context:get_run_context"),
    ("prefect.context", "FlowRunContext", "kernel_ext._context:FlowRunContext"),
    ("prefect.context", "TaskRunContext", "kernel_ext._context:TaskRunContext"),
    ("prefect.context", "tags", "kernel_ext._tags:tags"),
    ("prefect.flow_runs", "pause_flow_run", "kernel_ext._pause:pause_flow_run"),
    ("prefect.input", "RunInput", "kernel_ext._run_input:RunInput"),
    ("prefect.logging", "get_run_logger", "kernel_ext._logging:get_run_logger"),
    ("prefect.exceptions", "EventTooLarge", "kernel_ext._errors:EventTooLarge"),
    ("prefect.logging", "disable_run_logger", "kernel_ext._logging:disable_run_logger"),
    ("prefect.exceptions", "PrefectException", "kernel_ext:TaskbookError"),
    ("prefect.exceptions", "PrefectSignal", "kernel_ext._errors:TaskbookSignal"),
    ("prefect.exceptions", "ParameterBindError", "kernel_ext._errors:ParameterBindError"),
    ("prefect.exceptions", "TerminationSignal", "kernel_ext._errors:Terminated"),
    *[
        ("prefect.exceptions", name, f"kernel_ext._errors:{name}")
        for name in (
            "MissingContextError",
            "PausedRun",
            "InvalidNameError",
            "ReservedArgumentError",
            "ParameterTypeError",
            "SignatureMismatchError",
            "UpstreamTaskError",
            "MissingResult",
            "CancelledRun",
            "FailedRun",
            "CrashedRun",
            "UnfinishedRun",
            "MappingLengthMismatch",
            "MappingMissingIterable",
            "Abort",
        )
    ],
    *[
        ("prefect.utilities.annotations", name, f"kernel_ext._annotations:{name}")
        for name in ("BaseAnnotation", "allow_failure", "quote", "opaque")
    ],
    ("prefect.utilities.annotations", "unmapped", "kernel_ext._mapping:unmapped"),
]


def compat(prefect_path: str) -> Any:
    return importlib.import_module(prefect_path.replace("prefect", "kernel_ext.compat", 1))


def taskbook_object(target: str) -> Any:
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    return module if name == "__self__" else getattr(module, name)


@pytest.mark.parametrize(
    ("path", "name", "target"), EXPORTS, ids=[f"{p}.{n}" for p, n, _ in EXPORTS]
)
def test_a_prefect_name_is_taskbooks_object(path: str, name: str, target: str) -> None:
    assert getattr(compat(path), name) is taskbook_object(target)


def test_the_table_covers_every_exported_name() -> None:
    paths = {path for path, _, _ in EXPORTS}
    assert paths | {"prefect.utilities"} == set(_hook.MIRRORED) | {"prefect.utilities"}
    for path in paths:
        module = compat(path)
        listed = {name for p, name, _ in EXPORTS if p == path}
        extra = {"install_as_prefect"} if path == "prefect" else set()
        assert set(module.__all__) - extra <= listed, path
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_the_top_level_names_are_pinned() -> None:
    assert sorted(kernel_ext.compat.__all__) == [
        "Flow",
        "State",
        "Task",
        "allow_failure",
        "flow",
        "get_run_logger",
        "install_as_prefect",
        "pause_flow_run",
        "runtime",
        "tags",
        "task",
        "unmapped",
    ]


MISSING = [
    ("prefect", "serve", "taskbook deploy"),
    ("prefect", "get_client", "get_store"),
    ("prefect.states", "Submitting", "Pending to Running"),
    ("prefect.task_runners", "ProcessPoolTaskRunner", "ThreadPoolTaskRunner"),
    ("prefect.context", "SettingsContext", "TASKBOOK_HOME"),
    ("prefect.utilities.annotations", "freeze", "promoted"),
    ("prefect.input", "send_input", "approvals.answer"),
]


@pytest.mark.parametrize(("path", "name", "hint"), MISSING, ids=[f"{p}.{n}" for p, n, _ in MISSING])
def test_a_missing_name_says_what_to_use_instead(path: str, name: str, hint: str) -> None:
    module = compat(path)
    with pytest.raises(AttributeError, match=f"{path}.{name} is not available in Taskbook"):
        getattr(module, name)
    assert not hasattr(module, name)
    # ``from ... import`` would swallow an AttributeError's message: it gets an ImportError.
    namespace: dict[str, Any] = {}
    with pytest.raises(ImportError, match=hint) as info:
        exec(f"from {module.__name__} import {name}", namespace)
    assert not isinstance(info.value, AttributeError)


def test_an_unknown_name_is_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        kernel_ext.compat.states.nope  # noqa: B018


def test_importing_every_compat_module_stays_light() -> None:
    modules = sorted({path for path, _, _ in EXPORTS})
    code = textwrap.dedent(f"""
        import importlib, sys
        for path in {modules!r}:
            importlib.import_module(path.replace("prefect", "kernel_ext.compat", 1))
        heavy = {{"sqlalchemy", "alembic", "pydantic", "fsspec", "IPython", "pandas"}}
        print(sorted(heavy & set(sys.modules)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    store_url = f"sqlite:///{tmp_path / 'taskbook.db'}"
    environment = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path),
        "TASKBOOK_STORE_URL": store_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )


def test_install_as_prefect_lets_prefect_code_run_unchanged(tmp_path: Path) -> None:
    out = _run(
        """
        import sys
        import kernel_ext.compat
        kernel_ext.compat.install_as_prefect()
        kernel_ext.compat.install_as_prefect()  # twice is harmless

        import prefect
        import prefect.runtime.flow_run
        from prefect import flow, task, tags
        from prefect.states import Completed
        from prefect.runtime import flow_run
        from prefect.utilities.annotations import quote

        import kernel_ext
        from kernel_ext import _states, runtime
        assert prefect is kernel_ext.compat and flow is kernel_ext.flow
        assert Completed is _states.Completed and flow_run is runtime.flow_run
        assert prefect.runtime.flow_run is runtime.flow_run
        assert kernel_ext.compat.__spec__.name == "kernel_ext.compat"
        assert sys.modules["prefect.states"] is kernel_ext.compat.states

        @task
        def double(x: int) -> int:
            return 2 * x

        @flow
        def my_flow(x: int) -> str:
            return f"{flow_run.flow_name}:{double(x)}"

        print(my_flow(21))
        try:
            import prefect.server
        except ModuleNotFoundError as error:
            print(error)
    """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "my-flow:42"
    assert lines[1].startswith("No module named 'prefect.server': Taskbook mirrors only")


def test_install_as_prefect_refuses_to_shadow_a_real_prefect(tmp_path: Path) -> None:
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "__init__.py").write_text("REAL = True\n")
    out = _run(
        """
        import kernel_ext.compat
        from kernel_ext import TaskbookError
        try:
            kernel_ext.compat.install_as_prefect()
        except TaskbookError as error:
            print(type(error).__name__, error)
        import prefect
        print(prefect.REAL)
    """,
        tmp_path,
        PYTHONPATH=str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    refused, real = out.stdout.splitlines()
    assert refused.startswith("ConfigurationError install_as_prefect() would shadow the real")
    assert "pip uninstall prefect" in refused and real == "True"
