"""A real JupyterLab in headless Chromium, for end-to-end tests.

Each module gets a fresh JupyterLab (own config dir, root folder and Taskbook home) on a
free port with a token; each test gets a fresh browser context whose every request is
checked: anything not addressed to 127.0.0.1 fails the test (no CDN, no phoning home).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("TASKBOOK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    home: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quiet_settings(config_dir: Path) -> None:
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium`.")
    base = tmp_path_factory.mktemp("lab")
    root, home, config = base / "root", base / "home", base / "config"
    root.mkdir()
    home.mkdir()
    _quiet_settings(config)
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "TASKBOOK_HOME": str(home), "JUPYTER_CONFIG_DIR": str(config)}
    env.pop("TASKBOOK_STORE_URL", None)
    log = (base / "lab.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_until_up(url, token, process, base / "lab.log")
    try:
        yield Lab(url, token, root, home)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def _wait_until_up(url: str, token: str, process: Any, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright gives every launch a fresh, temporary profile.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page whose requests may only go to 127.0.0.1; others are recorded and fail."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def guard(route: Any) -> None:
        host = route.request.url.split("/")[2] if "://" in route.request.url else ""
        if route.request.url.startswith(("data:", "blob:")) or host.startswith("127.0.0.1"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    yield page
    context.close()
    assert outside == [], f"the page tried to reach outside 127.0.0.1: {outside[:5]}"


def open_notebook(page: Any, lab: Lab, path: str) -> None:
    page.goto(lab.page_url(path))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_idle(page)


def wait_idle(page: Any, timeout: float = 60_000) -> None:
    """Key presses before the kernel is idle are lost: wait for the status bar."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => e.textContent.includes('Idle'))",
        timeout=timeout,
    )


def run_all(page: Any) -> None:
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Escape")
    # Not awaited: the command resolves only when every cell has finished.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
