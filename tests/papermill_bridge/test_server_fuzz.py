"""schemathesis against a live Jupyter server: every operation of the OpenAPI document,
with generated valid and invalid input, finds no server error and no answer that breaks
the document (status, content type, schema, Allow header, refused valid input, accepted
invalid input)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.papermill_bridge.test_server_api import TOKEN, server

__all__ = ["server"]

pytestmark = pytest.mark.slow

DOCUMENT = Path(__file__).parents[2] / "papermill_bridge" / "server" / "openapi.json"


def test_no_server_error_and_no_schema_violation(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st),
            "run",
            str(DOCUMENT),
            "--url",
            f"{url}/taskbook/api",
            "-H",
            f"Authorization: token {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "2",
            "--seed",
            "20261201",
            "--warnings",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its cache stays there
    )
    summary = done.stdout[done.stdout.rfind("Test cases:") :]
    assert done.returncode == 0, done.stdout[-6000:]
    assert " passed" in summary, summary
