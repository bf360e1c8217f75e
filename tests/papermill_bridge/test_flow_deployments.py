"""Deploying Python flows: ``taskbook deploy FILE.py:FLOW``, ``flow.deploy()`` and
``flow.serve()``, run by real workers (papermill, a real kernel) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernel_ext import ConfigurationError, ParameterValidationError
from kernel_ext.testing import taskbook_test_harness
from tests.postgres import new_schema_url

ETL = '''
"""A small ETL flow, as a user writes one."""
from kernel_ext import flow, task
from kernel_ext.artifacts import create_markdown_artifact

from helpers import SUFFIX


@task
def extract(rows: int) -> list[int]:
    return list(range(rows))


@flow(name="daily-etl", log_prints=True)
def daily(region: str, rows: int = 3, scale: float = 1.5, note: str | None = None):
    """Load one region.

    Args:
        region: where to load
        rows (int): how many rows
    """
    data = extract(rows)
    print("loaded", region + SUFFIX, len(data))
    create_markdown_artifact(f"# {region}: {sum(data) * scale}", key="etl-report")
    return sum(data) * scale


if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run in a deployment run")
'''


def write_etl(folder: Path) -> Path:
    (folder / "helpers.py").write_text('SUFFIX = "!"\n')  # a sibling import
    path = folder / "etl.py"
    path.write_text(ETL)
    return path


def returned(path: str) -> list[str]:
    """What the cells of an output notebook returned (the flow's value, as text)."""
    output = nbformat.read(path, as_version=4)
    return [
        o["data"]["text/plain"]
        for c in output.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "execute_result"
    ]


def store() -> Any:
    from kernel_ext.store import get_store

    return get_store()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = None
    if request.param == "postgres":
        url = new_schema_url(request.getfixturevalue("postgres_database"))
    with taskbook_test_harness(url) as path:
        # The worker's child processes read the environment, not this process's overrides.
        monkeypatch.setenv("TASKBOOK_HOME", str(path))
        monkeypatch.setenv("TASKBOOK_RESULTS_URL", str(path / "results"))
        if url is None:
            monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
        else:
            monkeypatch.setenv("TASKBOOK_STORE_URL", url)
        yield path


@pytest.fixture
def sqlite_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with taskbook_test_harness() as path:
        monkeypatch.setenv("TASKBOOK_HOME", str(path))
        monkeypatch.delenv("TASKBOOK_STORE_URL", raising=False)
        monkeypatch.delenv("TASKBOOK_RESULTS_URL", raising=False)
        yield path


# --- the snapshot and its parameters ------------------------------------------------------


def test_the_schema_comes_from_the_signature(sqlite_home: Path) -> None:
    from papermill_bridge import promote_flow

    deployment = promote_flow(f"{write_etl(sqlite_home)}:daily", "etl")
    schema = {p["name"]: p for p in deployment["versions"][0]["parameters"]}
    assert list(schema) == ["region", "rows", "scale", "note"]
    assert schema["region"] == {
        "name": "region",
        "type": "str",
        "default": None,
        "help": "where to load",
        "required": True,
        "expression": False,
    }
    assert (schema["rows"]["type"], schema["rows"]["default"]) == ("int", 3)
    assert schema["rows"]["help"] == "how many rows"
    assert (schema["scale"]["type"], schema["scale"]["required"]) == ("float", False)
    assert schema["note"]["type"] == "str"  # Optional[str]: a str or nothing


def test_a_required_parameter_is_asked_for_before_any_kernel(sqlite_home: Path) -> None:
    from papermill_bridge import promote_flow, start_run

    entrypoint = f"{write_etl(sqlite_home)}:daily"
    promote_flow(entrypoint, "etl")
    with pytest.raises(ParameterValidationError, match="required parameter.*region"):
        start_run("etl")
    with pytest.raises(ParameterValidationError, match="schedule needs a value.*region"):
        promote_flow(entrypoint, "etl", schedules=[{"spec": _hourly()}])
    assert store().read_deployment("etl")["schedules"] == []  # nothing half-made
    run = start_run("etl", {"region": "eu", "rows": "4"})
    assert run["parameters"] == {"region": "eu", "rows": 4, "scale": 1.5, "note": None}


def test_a_new_default_is_a_new_version_and_the_same_source_is_not(sqlite_home: Path) -> None:
    from papermill_bridge import promote_flow

    entrypoint = f"{write_etl(sqlite_home)}:daily"
    assert promote_flow(entrypoint, "etl")["version"] == 1
    assert promote_flow(entrypoint, "etl")["version"] == 1
    again = promote_flow(entrypoint, "etl", parameters={"region": "eu"})
    assert again["version"] == 2
    region = again["versions"][0]["parameters"][0]
    assert (region["default"], region["required"]) == ("eu", False)


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        ("etl.py:nope", "no @flow function 'nope' at its top level; its flows: daily"),
        ("etl.py:extract", "no @flow function 'extract'"),
        ("missing.py:daily", "No file at"),
        ("etl.py", "is not FILE.py:FLOW"),
        ("etl.py:not-a-name", "is not FILE.py:FLOW"),
        ("helpers.py:daily", "it defines no @flow function"),
    ],
)
def test_a_bad_entrypoint_gets_a_clear_error(
    sqlite_home: Path, entrypoint: str, message: str
) -> None:
    from papermill_bridge import promote_flow

    write_etl(sqlite_home)
    with pytest.raises(ConfigurationError, match=message):
        promote_flow(str(sqlite_home / entrypoint), "etl")
    with pytest.raises(ConfigurationError):
        store().read_deployment("etl")


def test_star_arguments_and_broken_source_are_refused(sqlite_home: Path) -> None:
    from papermill_bridge import promote_flow

    path = sqlite_home / "star.py"
    path.write_text("from kernel_ext import flow\n\n@flow\ndef f(*values):\n    pass\n")
    with pytest.raises(ConfigurationError, match=r"takes \*values; a deployment passes"):
        promote_flow(f"{path}:f", "star")
    path.write_text("def f(:\n")
    with pytest.raises(ConfigurationError, match=r"star.py is not valid Python \(line 1"):
        promote_flow(f"{path}:f", "star")


# --- running them -------------------------------------------------------------------------

PROJECT_FLOW = """
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from kernel_ext import flow, task

from app.util import PREFIX
from .helpers import HELP

HERE = Path(__file__).parent
LIMIT = 5


@dataclasses.dataclass
class Row:
    day: date
    n: int


@task
def first_day(n: int) -> str:
    return str(Row(date(2024, 1, 2), n).day)


@flow
def report(
    date: str = "2024-01-01",
    report: str = "weekly",
    settings: dict = {
        "retries": 3,  # how many
        "sep": "a  b",
    },
    limit: int = LIMIT * 2,
):
    return {
        "date": date, "report": report, "settings": settings, "limit": limit,
        "row": first_day(1), "here": HERE.name, "prefix": PREFIX, "help": HELP,
    }


if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run in a deployment run")
"""


def write_project(folder: Path) -> Path:
    """A project as people lay them out: deployed from its root, the flow in a package
    that imports from the project and from its own folder."""
    flows = folder / "proj" / "app" / "flows"
    flows.mkdir(parents=True)
    (folder / "proj" / "app" / "__init__.py").write_text("")
    (folder / "proj" / "app" / "util.py").write_text('PREFIX = "u"\n')
    (flows / "helpers.py").write_text('HELP = "h"\n')
    (flows / "etl.py").write_text(PROJECT_FLOW)
    return folder / "proj"


def test_the_file_runs_as_an_imported_module_does(
    sqlite_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``__file__``, dataclasses under ``from __future__ import annotations``, relative
    imports and imports from the project, a parameter named like a global (``date``) or
    like the flow (``report``), a default over several lines with a comment, and one
    that is an expression (``LIMIT * 2``, the flow's to evaluate)."""
    from papermill_bridge import Worker, promote_flow, start_run

    monkeypatch.chdir(write_project(sqlite_home))
    deployment = promote_flow("app/flows/etl.py:report", "report")
    schema = {p["name"]: p for p in deployment["versions"][0]["parameters"]}
    assert schema["settings"]["default"] == {"retries": 3, "sep": "a  b"}
    assert (schema["limit"]["expression"], schema["limit"]["default"]) == (True, "LIMIT * 2")
    run = start_run("report", {"date": "2024-02-02"})
    assert run["parameters"] == {
        "date": "2024-02-02",
        "report": "weekly",
        "settings": {"retries": 3, "sep": "a  b"},
    }
    assert Worker().run_once()
    final = store().read_flow_run(run["id"])
    assert final["state"] == "Completed", final
    [result] = returned(final["output_notebook"])
    assert ast.literal_eval(result) == {  # the repr of a dict of literals
        "date": "2024-02-02",
        "report": "weekly",
        "settings": {"retries": 3, "sep": "a  b"},
        "limit": 10,
        "row": "2024-01-02",
        "here": "flows",
        "prefix": "u",
        "help": "h",
    }


def test_a_python_flow_deployment_runs_through_a_worker(home: Path) -> None:
    from papermill_bridge import Worker, promote_flow, start_run

    deployment = promote_flow(f"{write_etl(home)}:daily", "etl", parameters={"region": "eu"})
    run = start_run("etl", {"rows": 4})
    assert Worker().run_once()
    final = store().read_flow_run(run["id"])
    assert final["state"] == "Completed", final
    assert final["deployment_name"] == deployment["name"]
    # The flow ran as a subflow of the deployment run, its task inside it.
    subflow = final["task_runs"][0]
    assert subflow["name"].startswith("daily-etl")
    output = nbformat.read(final["output_notebook"], as_version=4)
    printed = "".join(o.get("text", "") for c in output.cells for o in c.get("outputs", []))
    assert "loaded eu! 4" in printed
    assert "__main__ block" not in printed
    results = returned(final["output_notebook"])
    assert results == ["9.0"]  # (0+1+2+3) * 1.5, the flow's return value
    artifacts = store().list_run_artifacts(run["id"])
    assert [(a["key"], a["data"]) for a in artifacts] == [("etl-report", "# eu: 9.0")]


def test_the_cli_deploys_a_python_flow(sqlite_home: Path) -> None:
    write_etl(sqlite_home)
    env = {**os.environ, "TASKBOOK_HOME": str(sqlite_home)}
    deploy = [sys.executable, "-m", "papermill_bridge.cli", "deploy", "etl.py:daily"]
    done = subprocess.run(
        [*deploy, "--name", "etl", "-p", "region=eu", "--interval", "1h", "--json"],
        cwd=sqlite_home,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schedules"][0]["spec"]["every_seconds"] == 3600
    missing = subprocess.run(
        [sys.executable, "-m", "papermill_bridge.cli", "deploy", "etl.py", "--name", "etl"],
        cwd=sqlite_home,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "etl.py:FLOW_FUNCTION" in missing.stderr


# --- flow.deploy() and flow.serve() -------------------------------------------------------


def import_file(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"user_flows_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_flow_deploy_returns_the_deployments_id(
    sqlite_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = import_file(write_etl(sqlite_home))
    deployment_id = module.daily.deploy(
        "etl", work_pool_name="any-pool", cron="0 6 * * *", parameters={"region": "eu"}
    )
    assert isinstance(deployment_id, uuid.UUID)
    deployment = store().read_deployment("etl")
    assert deployment["id"] == str(deployment_id)
    assert deployment["schedules"][0]["spec"]["expression"] == "0 6 * * *"
    assert deployment["description"].startswith("Load one region.")
    assert "taskbook run etl" in capsys.readouterr().out


def test_flow_deploy_refuses_what_it_cannot_do(sqlite_home: Path) -> None:
    from kernel_ext import flow

    module = import_file(write_etl(sqlite_home))
    with pytest.raises(ConfigurationError, match="not in a container image"):
        module.daily.deploy("etl", image="etl:latest")
    with pytest.raises(ValueError, match="Only one of interval, cron, rrule"):
        module.daily.deploy("etl", interval=60, cron="0 6 * * *")
    with pytest.raises(ConfigurationError, match="does not take; its parameters"):
        module.daily.deploy("etl", parameters={"regoin": "eu"})

    @flow
    def local() -> None:
        pass

    with pytest.raises(ConfigurationError, match="is defined inside"):
        local.deploy("local")
    with pytest.raises(ConfigurationError):
        store().read_deployment("etl")  # nothing was stored


SERVED = """
from kernel_ext import flow


@flow
def tick(n: int = 1) -> int:
    print("tick", n)
    return n


if __name__ == "__main__":
    tick.serve(name="ticker", interval=2, parameters={"n": 7})
"""


def completed_runs(name: str) -> list[Any]:
    runs = store().list_runs_of_deployment(name, limit=50)
    return [r for r in runs if r["state"] == "Completed"]


def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.25)


@pytest.mark.slow
def test_a_served_flow_runs_on_its_interval_until_ctrl_c(sqlite_home: Path) -> None:
    script = sqlite_home / "served.py"
    script.write_text(SERVED)
    env = {**os.environ, "TASKBOOK_HOME": str(sqlite_home)}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=sqlite_home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: store().list_deployments(), timeout=30)
        wait_until(lambda: len(completed_runs("ticker")) >= 2, timeout=60)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Your flow 'tick' is being served" in out
    assert "$ taskbook run ticker" in out
    assert "Paused deployment 'ticker'" in err
    deployment = store().read_deployment("ticker")
    assert deployment["paused"] is True  # pause_on_shutdown
    run = completed_runs("ticker")[0]
    assert run["parameters"] == {"n": 7}


@pytest.mark.slow
def test_a_flow_served_from_a_notebook_leaves_the_kernel_free(sqlite_home: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    notebook = nbformat.v4.new_notebook()
    definition = textwrap.dedent(SERVED.split("if __name__")[0])
    notebook.cells.append(nbformat.v4.new_code_cell(definition))
    notebook.cells.append(nbformat.v4.new_code_cell("served = tick.serve(interval=2)"))
    path = sqlite_home / "serve.ipynb"
    nbformat.write(notebook, path)
    env = {**os.environ, "TASKBOOK_HOME": str(sqlite_home), "TASKBOOK_NOTEBOOK_PATH": str(path)}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(sqlite_home))
    try:
        for cell in notebook.cells:
            reply = client.execute_interactive(cell.source, timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]
        started = time.monotonic()
        reply = client.execute_interactive("1 + 1", timeout=10)  # the kernel answers at once
        assert reply["content"]["status"] == "ok"
        assert time.monotonic() - started < 5
        wait_until(lambda: len(completed_runs("tick")) >= 2, timeout=60)
        reply = client.execute_interactive("served.stop()", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        # Edited in the kernel but not saved: deploying would run the old code; refused.
        edited = "@flow\ndef tick(n: int = 2) -> int:\n    return n\n\ntick.deploy('edited')"
        reply = client.execute_interactive(edited, timeout=60)
        assert reply["content"]["status"] == "error"
        assert "save the notebook (Ctrl-S)" in reply["content"]["evalue"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert store().read_deployment("tick")["paused"] is True
    snapshot = store().read_deployment_version("tick")
    cells = json.loads(snapshot["notebook"])["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert not any("tick.serve" in s for s in sources)  # only the cells up to the flow
    assert sources[-1].endswith("call_flow(tick, __taskbook_parameters__)")


def _hourly() -> dict[str, Any]:
    from papermill_bridge.schedules import parse_schedule

    return parse_schedule(interval="1h").to_dict()


def test_deploying_again_sets_the_schedules_given_and_unpauses(sqlite_home: Path) -> None:
    """As Prefect's deploy/serve: the schedules are the ones given now, and a deployment
    not asked to be paused is not (serving again after a Ctrl-C runs again)."""
    module = import_file(write_etl(sqlite_home))
    module.daily.deploy("etl", interval=60, parameters={"region": "eu"}, print_next_steps=False)
    store().set_deployment_paused("etl", True)
    module.daily.deploy("etl", interval=30, parameters={"region": "eu"}, print_next_steps=False)
    deployment = store().read_deployment("etl")
    assert [s["spec"]["every_seconds"] for s in deployment["schedules"]] == [30]
    assert deployment["paused"] is False
    module.daily.deploy("etl", paused=True, print_next_steps=False)
    deployment = store().read_deployment("etl")
    assert (deployment["schedules"], deployment["paused"]) == ([], True)


def test_in_async_code_deploy_is_awaited_and_serve_refused(sqlite_home: Path) -> None:
    import asyncio

    module = import_file(write_etl(sqlite_home))

    async def main() -> Any:
        return await module.daily.deploy("etl", print_next_steps=False)

    assert isinstance(asyncio.run(main()), uuid.UUID)

    async def serve() -> Any:
        return module.daily.serve("etl")

    with pytest.raises(ConfigurationError, match="Cannot call serve\\(\\) in async code"):
        asyncio.run(serve())


def test_a_notebook_deploys_its_last_definition_without_what_follows_it(
    sqlite_home: Path,
) -> None:
    from papermill_bridge import promote_flow

    notebook = nbformat.v4.new_notebook()
    for source in (
        "from kernel_ext import flow",
        "@flow\ndef daily(n: int = 1):\n    return 'draft'",
        "x = 1",
        "@flow\ndef daily(n: int = 2, m: int = 3):\n    return 'final'\n\ndaily()",
        "daily.serve()",
    ):
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    path = sqlite_home / "twice.ipynb"
    nbformat.write(notebook, path)
    deployment = promote_flow(f"{path}:daily", "daily")
    assert [p["name"] for p in deployment["versions"][0]["parameters"]] == ["n", "m"]
    cells = json.loads(store().read_deployment_version("daily")["notebook"])["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert "@flow\ndef daily(n: int = 2, m: int = 3):\n    return 'final'\n" in sources
    assert not any("daily()" in s.split("call_flow")[0] for s in sources[:-1])
    assert not any(".serve()" in s for s in sources)


@pytest.mark.slow
def test_stopping_a_served_flow_cancels_its_run_in_progress(sqlite_home: Path) -> None:
    from papermill_bridge import ServedFlow, promote_flow, start_run

    path = sqlite_home / "slow.py"
    path.write_text(
        "import time\nfrom kernel_ext import flow\n\n@flow\ndef slow():\n    time.sleep(120)\n"
    )
    promote_flow(f"{path}:slow", "slow")
    served = ServedFlow("slow", "slow", pause_on_shutdown=False)
    served.start()
    run = start_run("slow")
    wait_until(lambda: store().read_flow_run(run["id"])["state"] == "Running", timeout=60)
    time.sleep(3)  # the kernel is in the flow
    started = time.monotonic()
    served.stop()
    assert time.monotonic() - started < 40
    assert store().read_flow_run(run["id"])["state"] == "Cancelled"


def test_a_run_reads_the_deployed_source_not_the_file_edited_since(sqlite_home: Path) -> None:
    """What runs is the snapshot; a task's source (its cache key) is the snapshot's too."""
    from papermill_bridge import Worker, promote_flow, start_run

    path = sqlite_home / "src.py"
    body = (
        "import inspect\nfrom kernel_ext import flow, task\n\n"
        "@task\ndef double(x: int) -> int:\n    return x * {factor}\n\n"
        "@flow\ndef src(x: int = 5):\n    return double(x), inspect.getsource(double.fn)\n"
    )
    path.write_text(body.format(factor=2))
    promote_flow(f"{path}:src", "src")
    path.write_text(body.format(factor=3))  # edited after the deploy
    run = start_run("src")
    assert Worker().run_once()
    final = store().read_flow_run(run["id"])
    assert final["state"] == "Completed", final
    [result] = returned(final["output_notebook"])
    value, source = ast.literal_eval(result)
    assert value == 10 and "x * 2" in source


def test_a_deployment_default_over_an_expression_reaches_the_runs(sqlite_home: Path) -> None:
    from papermill_bridge import promote_flow, start_run

    path = sqlite_home / "expr.py"
    path.write_text(
        "from kernel_ext import flow\nLIMIT = 5\n\n"
        "@flow\ndef expr(limit: int = LIMIT * 2):\n    return limit\n"
    )
    promote_flow(f"{path}:expr", "expr", parameters={"limit": 100})
    assert start_run("expr")["parameters"] == {"limit": 100}
