"""Secrets in a real deployment run: the notebook loads them by name (through its
deployment's profile), and neither the output notebook nor the run's logs and states
keep their values. A worker claims the run and papermill executes it in a real kernel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kernel_ext import _redaction
from kernel_ext.testing import taskbook_test_harness

pytestmark = pytest.mark.slow

PASSWORD = "pw-live-6d2f90ab"
NEVER_LOADED = "sk-never-loaded-5e81"  # in the store, never loaded by the notebook


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with taskbook_test_harness() as path:
        # The worker's child processes read the environment, not this process's overrides.
        monkeypatch.setenv("TASKBOOK_HOME", str(path))
        for name in ("TASKBOOK_STORE_URL", "TASKBOOK_RESULTS_URL", "TASKBOOK_SECRET_KEY"):
            monkeypatch.delenv(name, raising=False)
        _redaction.forget_all()
        yield path
        _redaction.forget_all()


def write_notebook(folder: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("%load_ext kernel_ext"))
    parameters = nbformat.v4.new_code_cell("name = 'warehouse'")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells.append(parameters)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "etl.ipynb"
    nbformat.write(notebook, path)
    return path


def save_secrets(**values: Any) -> None:
    from kernel_ext import Secret

    for name, value in values.items():
        Secret(value=value).save(name.replace("_", "-"))
    _redaction.forget_all()  # this process is not the one the run's values reach


def run_deployment(home: Path, notebook: Path) -> dict[str, Any]:
    from kernel_ext.store import get_store
    from papermill_bridge import Worker, promote, start_run

    promote(notebook, "etl")
    run = start_run("etl")
    assert Worker().run_once()
    store = get_store()
    store.flush()
    return store.read_flow_run(run["id"])  # type: ignore[no-any-return]


def everything_stored(run: dict[str, Any]) -> str:
    from kernel_ext.store import get_store

    store = get_store()
    ids = [run["id"], *(t["id"] for t in run["task_runs"])]
    return json.dumps([run, store.read_logs(run["id"]), [store.read_history(i) for i in ids]])


def test_a_failing_run_keeps_no_secret_in_its_output_notebook_logs_or_states(home: Path) -> None:
    save_secrets(warehouse={"user": "etl", "password": PASSWORD}, unused=NEVER_LOADED)
    notebook = write_notebook(
        home,
        "%%task connect\n"
        "from kernel_ext import Secret, get_run_logger\n"
        "password = Secret.load(name).get()['password']\n"
        "print('password is', password)\n"
        "get_run_logger().warning('connecting with %s', password)",
        "print('pasted by hand:', 'sk-never-' + 'loaded-5e81')",
        "{'password': password}",
        "raise ConnectionError(f'login refused for {password}')",
    )
    run = run_deployment(home, notebook)
    assert run["state"] == "Failed", run
    assert run["state_message"].endswith("raised ConnectionError: login refused for ********")

    output = Path(run["output_notebook"]).read_text(encoding="utf-8")
    assert PASSWORD not in output and NEVER_LOADED not in output
    printed = "".join(
        "".join(o.get("text", "")) + json.dumps(o.get("data", {})) + "".join(o.get("traceback", []))
        for cell in nbformat.reads(output, as_version=4).cells
        for o in cell.get("outputs", [])
    )
    assert "password is ********" in printed and "pasted by hand: ********" in printed
    assert "'password': '********'" in printed  # a displayed dict
    assert "login refused for ********" in printed  # the traceback

    stored = everything_stored(run)
    assert PASSWORD not in stored and NEVER_LOADED not in stored
    from kernel_ext.store import get_store

    messages = [line["message"] for line in get_store().read_logs(run["id"])]
    assert "connecting with ********" in messages
    assert any("login refused for ********" in m for m in messages)  # the run's error line


def test_a_deployment_run_reads_its_profiles_secret(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_secrets(warehouse="shared-pass-1", prod_warehouse="prod-pass-1")
    monkeypatch.setenv("TASKBOOK_PROFILE", "prod")  # as the worker sets it for the run
    notebook = write_notebook(
        home,
        "from kernel_ext import Secret\n"
        "password = Secret.load(name).get()\n"
        "print('profile of the password:', password.split('-')[0].upper())",
    )
    run = run_deployment(home, notebook)
    assert run["state"] == "Completed", run
    output = Path(run["output_notebook"]).read_text(encoding="utf-8")
    assert "profile of the password: PROD" in output
    assert "prod-pass-1" not in output and "shared-pass-1" not in output


def published_text(output: Path) -> str:
    """The output notebook, and anything else in its folder (a half-written copy)."""
    return "".join(p.read_text(encoding="utf-8") for p in output.parent.iterdir())


def printed_when_saved(run_id: str) -> tuple[Path, str]:
    """The output notebook once papermill has saved a cell's print, and that print."""
    import time

    from kernel_ext.store import get_store

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        path = get_store().read_flow_run(run_id)["output_notebook"]
        if path and Path(path).exists():
            cells = nbformat.read(path, as_version=4).cells
            text = "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))
            if text:
                return Path(path), text
        time.sleep(0.1)
    raise AssertionError("the run printed nothing in 90 s")


@pytest.mark.parametrize("ends", ["Cancelled", "Completed"])
def test_the_published_output_notebook_never_holds_a_secret(home: Path, ends: str) -> None:
    import threading
    import time

    from kernel_ext.store import get_store
    from papermill_bridge import Worker, promote, start_run

    save_secrets(warehouse=PASSWORD)
    notebook = write_notebook(
        home,
        "from kernel_ext import Secret\nprint('password is', Secret.load(name).get())",
        f"import time\ntime.sleep({120 if ends == 'Cancelled' else 6})",
    )
    promote(notebook, "etl")
    run = start_run("etl")
    store = get_store()
    thread = threading.Thread(target=Worker(heartbeat_seconds=0.5).run_once)
    thread.start()
    try:
        output, text = printed_when_saved(run["id"])
        assert store.read_flow_run(run["id"])["state"] == "Running"  # papermill saved it
        assert text == "password is ********\n" and PASSWORD not in published_text(output)
    finally:
        if ends == "Cancelled":
            store.request_cancel(run["id"])
        asked = time.monotonic()
        thread.join(timeout=90)
    assert store.read_flow_run(run["id"])["state"] == ends
    assert PASSWORD not in published_text(output)
    assert [p.name for p in output.parent.iterdir()] == [output.name]
    # Stopped with SIGTERM, the executor exits through Python: papermill saves once more,
    # and long before the worker would kill it (30 s).
    assert nbformat.read(output, as_version=4).metadata["papermill"]["end_time"] is not None
    assert time.monotonic() - asked < 25
