"""Automations from YAML and JSON files: Prefect's three shapes, and every problem at once,
one line each, naming the file, the automation and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel_ext.automations import (
    AutomationFileError,
    EventTrigger,
    Posture,
    SendNotification,
    load_automations,
)

SLA = """\
name: stuck-runs
description: runs that do not complete within 10 minutes of starting
trigger:
  posture: Proactive
  after: [prefect.flow-run.Running]
  expect: [prefect.flow-run.Completed]
  for_each: [prefect.resource.id]
  within: 600
actions:
  - type: send-notification
    url: "json://127.0.0.1:9/"
    subject: "{{ flow_run.name }} is stuck"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(AutomationFileError) as caught:
        load_automations(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_one_automation_in_yaml(tmp_path: Path) -> None:
    (automation,) = load_automations(write(tmp_path, "sla.yaml", SLA))
    assert isinstance(automation.trigger, EventTrigger)
    assert automation.trigger.posture is Posture.Proactive
    assert isinstance(automation.actions[0], SendNotification)


def test_a_list_and_the_automations_key_in_yaml_and_json(tmp_path: Path) -> None:
    other = SLA.replace("stuck-runs", "other")
    listed = "\n".join("- " + block.replace("\n", "\n  ").rstrip() for block in (SLA, other))
    assert [a.name for a in load_automations(write(tmp_path, "l.yml", listed))] == [
        "stuck-runs",
        "other",
    ]
    records = [
        {"name": "a", "trigger": {"expect": ["x"]}, "actions": [{"type": "do-nothing"}]},
        {"name": "b", "trigger": {"expect": ["y"]}, "actions": [{"type": "cancel-flow-run"}]},
    ]
    keyed = write(tmp_path, "k.json", json.dumps({"automations": records}))
    assert [a.name for a in load_automations(keyed)] == ["a", "b"]


def test_every_problem_is_reported_one_line_each(tmp_path: Path) -> None:
    text = """\
automations:
  - name: first
    trigger: {posture: Proactive, within: 5, expect: [x]}
    actions: [{type: send-notification}]
  - name: second
    trigger: {expect: [x], threshhold: 2, match_related: [{genus: 1}]}
    actions:
      - {type: call-webhook}
      - {type: run-deployment, deployment: d, parameters: {x: "{{ event.id"}}
  - name: third
    trigger: {type: compound, require: 3, triggers: [{expect: [a]}]}
    actions: [{type: pause-deployment, source: inferred, deployment: nightly}]
"""
    found = problems(write(tmp_path, "bad.yaml", text))
    where = str(tmp_path / "bad.yaml")
    assert found == [
        f"{where}: automation 1 ('first'): trigger: `within` for Proactive triggers must be "
        "greater than or equal to 10 seconds; got 5",
        f"{where}: automation 1 ('first'): actions[0]: give the destination as `url` (an "
        "Apprise URL such as `slack://...`) or as `secret` (the name of a Secret holding "
        "one), exactly one of them",
        f"{where}: automation 2 ('second'): trigger.match_related: [0] the pattern of "
        "'genus' is a string or a list of strings; got 1",
        f"{where}: automation 2 ('second'): trigger.threshhold: is not a field here (check "
        "its spelling and indentation)",
        f"{where}: automation 2 ('second'): actions[0]: 'call-webhook' is not a type "
        "Taskbook knows; use one of 'do-nothing', 'run-deployment', 'pause-deployment', "
        "'resume-deployment', 'cancel-flow-run', 'suspend-flow-run', 'resume-flow-run', "
        "'send-notification', 'pause-automation', 'resume-automation'",
        f"{where}: automation 2 ('second'): actions[1].parameters: the value at x is not a "
        "valid Jinja template: unexpected end of template, expected 'end of print "
        "statement'. (line 1)",
        f"{where}: automation 3 ('third'): trigger: require must be less than or equal to "
        "the number of triggers (1); got 3",
        f"{where}: automation 3 ('third'): actions[0]: deployment_id is not allowed with "
        "`source: inferred` (the deployment is the triggering event's); use `source: "
        "selected` to name one",
    ]


def test_missing_fields_and_repeated_names(tmp_path: Path) -> None:
    text = json.dumps(
        [
            {"name": "same", "trigger": {}, "actions": []},
            {"name": "same", "trigger": {}, "actions": []},
            {"trigger": {}},
            "not a mapping",
        ]
    )
    found = problems(write(tmp_path, "a.json", text))
    where = str(tmp_path / "a.json")
    assert found == [
        f"{where}: automation 3: name: is required",
        f"{where}: automation 3: actions: is required",
        f"{where}: automation 4: is a str, not a mapping of fields",
        f"{where}: the name 'same' is used twice; automation names are unique",
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "name: [unclosed\n", "is not valid YAML (line 2)"),
        ("bad.json", '{"name": }', "is not valid JSON (line 1): Expecting value"),
        ("empty.yaml", "", "holds no automation; write one automation"),
        ("list.json", "[]", "holds no automation"),
    ],
)
def test_files_that_cannot_be_read(tmp_path: Path, name: str, text: str, expected: str) -> None:
    (problem,) = problems(write(tmp_path, name, text))
    assert problem.startswith(str(tmp_path / name)) and expected in problem


def test_a_missing_file(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path / "nowhere.yaml")
    assert problem == f"{tmp_path / 'nowhere.yaml'}: cannot be read: No such file or directory"
