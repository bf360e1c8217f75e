"""A store that has grown for a year: filled once through the engine, then kept and reused.

``console_store.py`` times the console's reads on it and ``startup.py`` times ``taskbook
runs ls`` on it. Filling writes ``flows`` flow runs of ``tasks`` task runs each (50,000 x
20 = 1,000,000 task runs by default) with real ``@flow``/``@task`` calls through the
batched writer, every tenth flow failing, and one flow run with 5,000 log lines. It takes
about 2 minutes on SQLite and 2.5 on PostgreSQL; a marker file in the home records what the
store holds, so the next run reuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLOWS = 50_000
TASKS = 20
LOG_LINES = 5_000
FILLED = "console-store-filled.json"


def default_home(url: str | None = None, flows: int = FLOWS) -> Path:
    """Where a filled store is kept when no home is given: one per backend and size."""
    backend = "postgresql" if url else "sqlite"
    return Path(tempfile.gettempdir()) / f"taskbook-console-{backend}-{flows}"


def environment(home: Path, url: str | None) -> dict[str, str]:
    """This process's environment, pointed at the store in ``home`` (or at ``url``)."""
    found = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    found["JUPYTER_CONFIG_DIR"] = str(home / "cfg")
    if url:
        found["TASKBOOK_STORE_URL"] = url
    else:
        found.pop("TASKBOOK_STORE_URL", None)
    return found


def filled(home: Path, flows: int = FLOWS, tasks: int = TASKS) -> dict[str, Any] | None:
    """What the store in ``home`` holds (its marker), if it was filled to this size by
    this schema (an older one would be migrated inside the first timed command)."""
    from kernel_ext.store import SCHEMA_REVISION

    marker = home / FILLED
    if not marker.exists():
        return None
    known: dict[str, Any] = json.loads(marker.read_text())
    wanted = {"flows": flows, "tasks": tasks, "schema": SCHEMA_REVISION}
    if all(known.get(key) == value for key, value in wanted.items()):
        return known
    return None


def fill(home: Path, url: str | None, flows: int = FLOWS, tasks: int = TASKS) -> dict[str, Any]:
    """Fill the store once (in a child process, so this one stays clean); its marker."""
    known = filled(home, flows, tasks)
    if known is not None:
        return known
    if (home / FILLED).exists():  # filled by another size or schema
        if url is not None or home != default_home(url, flows):
            raise SystemExit(
                f"The store of {home} was filled for another size or schema: remove that "
                "folder (and drop the PostgreSQL database, if one was given) and run again."
            )
        shutil.rmtree(home)  # this bench's own temporary home: start again
    home.mkdir(parents=True, exist_ok=True)
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    code += f"import _big_store; _big_store._fill_here({flows}, {tasks})"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment(home, url), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"Filling the store failed:\n{done.stderr[-3000:]}")
    known = json.loads((home / FILLED).read_text())
    print(f"filled the store in {time.perf_counter() - started:.0f} s: {known}")
    return known


def _fill_here(flows: int, tasks: int) -> None:
    from kernel_ext import flow, get_run_logger, task
    from kernel_ext._settings import home
    from kernel_ext.store import get_store

    @task
    def step(i: int) -> int:
        return i + 1

    @flow(name="nightly-etl")
    def etl(n: int, fail: bool) -> int:
        total = sum(step(i) for i in range(n))
        if fail:
            raise ValueError(f"bad batch {total}")
        return total

    @flow(name="chatty")
    def chatty(lines: int) -> None:
        logger = get_run_logger()
        for i in range(lines):
            logger.info("line %d of the chatty run", i)

    chatty(LOG_LINES)
    for i in range(flows - 1):
        try:
            etl(tasks, fail=i % 10 == 9)
        except ValueError:
            pass
    store = get_store()
    store.flush(timeout=None)
    if store.url.startswith("postgresql"):
        _analyze(store.url)  # as autovacuum has done on a store that grew for a year
    newest = store.list_flow_runs(limit=1, name="nightly-etl")[0]["id"]
    chatty_id = store.list_flow_runs(limit=1, name="chatty")[0]["id"]
    last_log = store.read_logs(chatty_id, tail=1)[0]["id"]
    from kernel_ext.store import SCHEMA_REVISION

    marker = {"flows": flows, "tasks": tasks, "schema": SCHEMA_REVISION, "run": newest}
    marker["chatty"] = chatty_id
    marker["last_log"] = last_log
    (home() / FILLED).write_text(json.dumps(marker))


def _analyze(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    finally:
        engine.dispose()
