"""The release, installed as a new user installs it: the wheel, without extras, in a
fresh virtual environment, and a user's first hour walked with that environment only."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
NOTEBOOK = ROOT / "notebooks" / "cells_as_tasks.ipynb"


class Venv:
    """A fresh environment with the wheel installed, and a home of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.home = root / "home"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TASKBOOK_", "VIRTUAL"))},
            "TASKBOOK_HOME": str(self.home),
            "JUPYTER_CONFIG_DIR": str(root / "jupyter"),
            "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "TASKBOOK_LOGGING_LEVEL": "WARNING",
        }

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.bin / args[0]), *args[1:]],
            env=self.env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    root = tmp_path_factory.mktemp("release")
    wheels = root / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("taskbook-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    installed = Venv(root)
    installed.run("python", "-m", "pip", "install", "--quiet", str(wheel), timeout=900)
    yield installed
    shutil.rmtree(root, ignore_errors=True)


def test_the_wheel_brings_no_extras_but_everything_a_laptop_needs(venv: Venv) -> None:
    listed = venv.run("python", "-m", "pip", "list", "--format=json").stdout
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert {
        "jupyterlab",
        "ipykernel",
        "ipywidgets",
        "anywidget",
        "papermill",
        "nbformat",
        "sqlalchemy",
        "traitlets",
        "jupyter-server",
    } <= names
    assert not {"psycopg", "distributed", "fsspec", "pytest"} & names


def test_demo_deploy_run_and_serve(venv: Venv) -> None:
    demo = venv.run("taskbook", "demo")
    assert "Summary of station-7" in demo.stdout
    notebook = venv.root / NOTEBOOK.name
    shutil.copyfile(NOTEBOOK, notebook)
    deployed = venv.run(
        "taskbook", "deploy", str(notebook), "--name", "sensors", "--interval", "15m"
    )
    assert "Deployment sensors is at version 1" in deployed.stdout
    serve = venv.start("taskbook", "serve")
    try:
        done = venv.run("taskbook", "run", "sensors", "--wait", timeout=300)
        time.sleep(2)  # serve keeps going after the run
        assert serve.poll() is None
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=60)
    assert "ended Completed." in done.stdout, done.stdout
    assert "Scheduler and worker" in out
    assert serve.returncode == 0, out


def test_jupyter_sees_the_extensions_enabled(venv: Venv) -> None:
    lab = venv.run("jupyter", "labextension", "list")
    line = next(row for row in (lab.stdout + lab.stderr).splitlines() if "taskbook" in row)
    assert "enabled" in line and "OK" in line
    server = venv.run("jupyter", "server", "extension", "list")
    text = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    assert re.search(r"papermill_bridge\.server enabled", text), text
    assert re.search(r"papermill_bridge\.server\s+OK", text), text


def test_a_new_notebook_loads_the_extension(venv: Venv) -> None:
    script = """
import nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell("%load_ext kernel_ext"),
            nbformat.v4.new_code_cell("%%task double --retries 1\\nx = 21 * 2\\nprint('x is', x)")]
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
print(nb.cells[1].outputs[0]["text"])
"""
    done = venv.run("python", "-c", script)
    assert "x is 42" in done.stdout
    listed = json.loads(venv.run("taskbook", "runs", "ls", "--json").stdout)
    assert any(run["state"] == "Completed" for run in listed)


def test_the_quick_start_ships_with_the_package(venv: Venv) -> None:
    where = venv.run(
        "python",
        "-c",
        "from papermill_bridge.cli._lab import quickstart_notebook;print(quickstart_notebook())",
    ).stdout.strip()
    assert "site-packages" in where
    assert json.loads(Path(where).read_text())["cells"]
