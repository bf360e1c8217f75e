"""Links into a running JupyterLab, for the CLI to print next to a run and for
automations' notifications to link to.

A running Jupyter server writes ``jpserver-<pid>.json`` (its URL and base URL) to the
Jupyter runtime folder; the console opens ``<url>lab?taskbook-run=ID``. Read without
importing the server (the CLI stays light); a server whose process is gone is skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["run_link"]


def run_link(run_id: str) -> str | None:
    """The URL that opens run ``run_id`` in the console: ``TASKBOOK_CONSOLE_URL``'s, else
    the newest JupyterLab running here, if there is one."""
    from kernel_ext import _settings

    configured = _settings.console_url()
    if configured:
        base: str | None = configured if configured.endswith("/") else f"{configured}/"
    else:
        base = _lab_url()
    return None if base is None else f"{base}lab?taskbook-run={quote(run_id)}"


def _lab_url() -> str | None:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    folder = Path(jupyter_runtime_dir())
    try:
        files = sorted(
            folder.glob("jpserver-*.json"), key=lambda f: f.stat().st_mtime, reverse=True
        )
    except OSError:
        return None
    for file in files:
        url = _url_of(file)
        if url is not None:
            return url
    return None


def _url_of(file: Path) -> str | None:
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    return url if url.endswith("/") else f"{url}/"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but there
    except OSError:
        return False
    return True
