"""`taskbook lab` starts JupyterLab and the scheduler together and stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_lab_and_serve_start_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TASKBOOK_HOME": str(tmp_path),
        "JUPYTER_CONFIG_DIR": str(tmp_path),
        "TASKBOOK_LOGGING_LEVEL": "WARNING",
    }
    env.pop("TASKBOOK_STORE_URL", None)
    taskbook = str(Path(sys.executable).with_name("taskbook"))
    process = subprocess.Popen(
        [taskbook, "lab", "--no-browser", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline, up = time.monotonic() + 90, False
    while time.monotonic() < deadline and not up:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2):
                up = True
        except OSError:
            up = "403" in str(sys.exc_info()[1])  # up, but wants a token
            time.sleep(0.5)
    assert up, "JupyterLab did not answer"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert "Scheduler and worker" in output
    assert "Stopped JupyterLab and the scheduler." in output
