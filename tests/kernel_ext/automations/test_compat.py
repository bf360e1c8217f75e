"""``prefect.automations``, ``prefect.events.schemas.automations`` and
``prefect.events.actions``: Prefect's paths to Taskbook's automation models."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kernel_ext.automations

MODULES = [
    "kernel_ext.compat.automations",
    "kernel_ext.compat.events.schemas.automations",
    "kernel_ext.compat.events.actions",
]


@pytest.mark.parametrize("path", MODULES)
def test_every_name_is_taskbooks_own_object(path: str) -> None:
    module = importlib.import_module(path)
    assert module.__all__
    for name in module.__all__:
        assert getattr(module, name) is getattr(kernel_ext.automations, name)


@pytest.mark.parametrize(
    ("path", "name", "instead"),
    [
        ("kernel_ext.compat.automations", "MetricTrigger", "metric triggers are not supported"),
        ("kernel_ext.compat.events.actions", "CallWebhook", "SendNotification with an Apprise"),
        ("kernel_ext.compat.events.actions", "PauseWorkPool", "Taskbook has no work pools"),
    ],
)
def test_prefects_other_names_say_what_to_use(path: str, name: str, instead: str) -> None:
    with pytest.raises(AttributeError, match=instead):
        getattr(importlib.import_module(path), name)


def test_prefect_code_creates_an_automation_unchanged(tmp_path: Path) -> None:
    code = """
        from datetime import timedelta
        import kernel_ext.compat
        kernel_ext.compat.install_as_prefect()

        from prefect.automations import Automation, EventTrigger, CancelFlowRun
        from prefect.events.actions import SendNotification
        from prefect.events.schemas.automations import Posture

        created = Automation(
            name="woodchonk",
            trigger=EventTrigger(
                expect={"animal.walked"},
                match={"genus": "Marmota", "species": "monax"},
                posture=Posture.Reactive,
                threshold=3,
                within=timedelta(seconds=10),
            ),
            actions=[CancelFlowRun(), SendNotification(url="json://127.0.0.1:9/", body="b")],
        ).create()
        read = Automation.read(name="woodchonk")
        print(read.id == created.id, read.trigger.threshold, read.disable(), read.enable())
    """
    env = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path),
        "TASKBOOK_STORE_URL": f"sqlite:///{tmp_path / 'taskbook.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "3", "True", "True"]
