"""Deployment benchmarks: scheduling latency and the scheduler's tick.

    python bench/deployments.py

1. From a run's scheduled time to its first cell executing, through a running worker,
   against papermill's own start of the same notebook (call to first cell).
2. One scheduler tick over 1,000 deployments with a schedule each (nothing due).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

ROUNDS = 5
STAMP = "import time, pathlib\npathlib.Path({path!r}).write_text(repr(time.time()))"


def notebook(folder: Path) -> Path:
    import nbformat

    book = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("stamp = ''")
    params.metadata["tags"] = ["parameters"]
    book.cells = [params, nbformat.v4.new_code_cell(STAMP.format(path=str(folder / "t")))]
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "stamp.ipynb"
    nbformat.write(book, path)
    return path


def papermill_start(path: Path) -> float:
    import papermill

    started = time.time()
    papermill.execute_notebook(
        str(path), str(path.with_suffix(".out.ipynb")), kernel_name="python3", progress_bar=False
    )
    return float((path.parent / "t").read_text()) - started


def taskbook_start(path: Path) -> float:
    from kernel_ext._states import FINAL_TYPES
    from kernel_ext.store import get_store
    from papermill_bridge import start_run

    run = start_run("stamp")
    store = get_store()
    while store.read_flow_run(run["id"])["state_type"] not in FINAL_TYPES:
        time.sleep(0.05)
    scheduled = store.read_flow_run(run["id"])["scheduled_time"]
    from datetime import datetime

    return float((path.parent / "t").read_text()) - datetime.fromisoformat(scheduled).timestamp()


def latency(folder: Path) -> None:
    from papermill_bridge import Worker, promote

    path = notebook(folder)
    promote(path, "stamp")
    worker = Worker(poll_seconds=0.1)
    threading.Thread(target=worker.serve, daemon=True).start()
    papermill_start(path)  # warm caches
    own = statistics.median(papermill_start(path) for _ in range(ROUNDS))
    ours = statistics.median(taskbook_start(path) for _ in range(ROUNDS))
    worker.stopping.set()
    print(f"papermill: call to first cell             {own * 1e3:8.0f} ms (median of {ROUNDS})")
    print(f"taskbook: scheduled time to first cell    {ours * 1e3:8.0f} ms (worker polling 0.1 s)")
    print(f"difference                                {(ours - own) * 1e3:8.0f} ms")


def tick() -> None:
    from kernel_ext.store import get_store
    from papermill_bridge import Scheduler
    from papermill_bridge.schedules import parse_schedule

    store = get_store()
    spec = parse_schedule(cron="0 6 * * *", timezone="Europe/Berlin").to_dict()
    for i in range(1000):
        store.create_deployment_version(
            name=f"d{i}",
            notebook_path="/x.ipynb",
            notebook="{}",
            notebook_sha256=f"{i:064d}",
            parameters=[],
        )
        store.add_schedule(f"d{i}", spec, {})
    scheduler = Scheduler()
    scheduler.tick()
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        scheduler.tick()
        samples.append(time.perf_counter() - started)
    print(f"scheduler tick over 1,000 deployments     {statistics.median(samples) * 1e3:8.1f} ms")


if __name__ == "__main__":
    home = tempfile.mkdtemp(prefix="bench-deployments-")
    os.environ["TASKBOOK_HOME"] = home
    os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
    latency(Path(home))
    tick()
