"""Cells-as-tasks benchmarks: the ``%%task`` magic's own overhead, and cached restores.

    python bench/magics.py

1. Overhead per cell: the same trivial cell run N times in a real IPython shell, with and
   without ``%%task`` (each ``%%task`` run is a recorded task run in the embedded store);
   goal at most 0.15 ms over the plain cell.
2. Restoring a cached 100 MB NumPy array (``%%task --cache``) into the namespace, and
   restoring it then touching every element once, against reading the same result file
   from disk (the page cache is warm for both).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

CELLS = 500
GOAL_OVERHEAD_MS = 0.15


def shell() -> Any:
    os.environ["TASKBOOK_HOME"] = tempfile.mkdtemp(prefix="bench-magics-")
    os.environ.setdefault("TASKBOOK_LOGGING_LEVEL", "WARNING")
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext kernel_ext")
    ip.run_cell("source = list(range(100))")
    return ip


def per_cell(ip: Any, source: str) -> float:
    ip.run_cell(source)  # warm up
    samples = []
    for _ in range(CELLS):
        started = time.perf_counter()
        ip.run_cell(source)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def overhead(ip: Any) -> None:
    body = "total = sum(source)\nfirst = source[0]"
    plain = per_cell(ip, body)
    tracked = per_cell(ip, f"%%task add_up\n{body}")
    print(f"plain cell (median of {CELLS})        {plain * 1e3:8.3f} ms")
    print(f"%%task cell (median of {CELLS})       {tracked * 1e3:8.3f} ms")
    extra = (tracked - plain) * 1e3
    verdict = "ok" if extra <= GOAL_OVERHEAD_MS else "over"
    print(
        f"magic overhead per cell             {extra:8.3f} ms"
        f"   goal {GOAL_OVERHEAD_MS} ms {verdict}"
    )


def cached_restore(ip: Any) -> None:
    import numpy  # noqa: F401 - imported in the shell below

    ip.run_cell("import numpy as np")
    cell = "%%task big --cache\narr = np.arange(100 * 2**20 // 8, dtype=np.float64)"
    ip.run_cell(cell)  # computes and persists
    ip.run_cell("del arr")
    started = time.perf_counter()
    ip.run_cell(cell)
    restore = time.perf_counter() - started
    ip.run_cell("total = float(arr.sum())")  # first touch of every page of the restored array
    touched = time.perf_counter() - started
    assert ip.user_ns["arr"].nbytes == 100 * 2**20
    from kernel_ext import _settings

    folder = _settings.results_url()
    path = max((os.path.join(folder, f) for f in os.listdir(folder)), key=os.path.getsize)
    started = time.perf_counter()
    with open(path, "rb") as handle:
        while handle.read(16 * 2**20):
            pass
    read = time.perf_counter() - started
    size = os.path.getsize(path) / 2**20
    print(f"restore cached 100 MB array         {restore * 1e3:8.1f} ms (memory-mapped)")
    print(f"restore, then arr.sum() over it     {touched * 1e3:8.1f} ms")
    print(
        f"read the {size:.0f} MB result file       {read * 1e3:8.1f} ms ({size / read:,.0f} MB/s)"
    )


if __name__ == "__main__":
    ip = shell()
    overhead(ip)
    cached_restore(ip)
