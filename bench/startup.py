"""Start-up: what a person waits for before anything runs, next to its floor.

    python bench/startup.py              # 7 runs of each, the median and the best
    python bench/startup.py --big-store PATH   # where the store of 1,000,000 task runs is

Each figure is the wall time of a new process, measured in this run:

- ``python -c pass``: the floor, a bare interpreter;
- ``import kernel_ext``: goal at most 3x the floor;
- ``taskbook runs ls`` on an empty store (an existing home), and on a store of 1,000,000
  task runs (``_big_store.py``'s, the one ``console_store.py`` reads; filled once, which
  takes about 2 minutes, then kept and reused): goal at most 250 ms;
- the first flow in a fresh ``TASKBOOK_HOME`` (the store is created there): goal at
  most 300 ms;
- the same flow in that home again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _big_store

FLOW = "from kernel_ext import flow\n@flow\ndef f():\n    return 1\nf()\n"
BIG_LS = "taskbook runs ls (1M task runs)"


def wall(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def measure(rounds: int, big_store: Path | None) -> dict[str, list[float]]:
    """Each figure's wall times (ms), ``rounds`` of each; ``runs ls`` on the filled store
    in ``big_store`` too, unless it is None."""
    python = sys.executable
    taskbook = str(Path(python).with_name("taskbook"))
    root = Path(tempfile.mkdtemp(prefix="taskbook-startup-"))
    base = {**os.environ, "TASKBOOK_LOGGING_LEVEL": "ERROR"}
    # As on a user's machine, compiled modules are kept (an install compiles them; a
    # first import writes them): the rounds do not measure compiling.
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    base.pop("TASKBOOK_STORE_URL", None)
    found: dict[str, list[float]] = {
        "python -c pass": [],
        "import kernel_ext": [],
        "taskbook runs ls (empty store)": [],
        **({BIG_LS: []} if big_store else {}),
        "first flow in a fresh home": [],
        "a flow in that home again": [],
    }
    subprocess.run(
        [taskbook, "runs", "ls"],
        env={**base, "TASKBOOK_HOME": str(root / "ls")},
        check=True,
        capture_output=True,
    )  # its store exists before the rounds
    big = None if big_store is None else _big_store.environment(big_store, None)
    if big is not None:
        wall([taskbook, "runs", "ls"], big)  # warms the page cache, as the empty store's
    try:
        for i in range(rounds):  # interleaved: load moves every figure alike
            home = root / f"home-{i}"
            environment = {**base, "TASKBOOK_HOME": str(home)}
            found["python -c pass"].append(wall([python, "-c", "pass"], environment))
            found["import kernel_ext"].append(wall([python, "-c", "import kernel_ext"], base))
            fresh = wall([python, "-c", FLOW], environment)
            found["first flow in a fresh home"].append(fresh)
            found["a flow in that home again"].append(wall([python, "-c", FLOW], environment))
            runs_ls = wall([taskbook, "runs", "ls"], {**base, "TASKBOOK_HOME": str(root / "ls")})
            found["taskbook runs ls (empty store)"].append(runs_ls)
            if big is not None:
                found[BIG_LS].append(wall([taskbook, "runs", "ls"], big))
            shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return found


def ready(home: Path) -> Path:
    """``home``, its store filled with 1,000,000 task runs (now, if it was not)."""
    if _big_store.filled(home) is None:
        print(
            f"The store of 1,000,000 task runs is not filled yet: filling it in {home} "
            "(once; about 2 minutes on SQLite, kept for the next runs)...",
            flush=True,
        )
        _big_store.fill(home, None)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--big-store",
        type=Path,
        default=_big_store.default_home(),
        metavar="PATH",
        help="the home of the store of 1,000,000 task runs (filled there once if it is not)",
    )
    parser.add_argument(
        "--no-big-store", action="store_true", help="skip `runs ls` on 1,000,000 task runs"
    )
    args = parser.parse_args()
    big_store = None if args.no_big_store else ready(args.big_store)
    found = measure(args.rounds, big_store)
    floor = statistics.median(found["python -c pass"])
    goals = {
        "import kernel_ext": (3 * floor, "3x the floor"),
        "taskbook runs ls (empty store)": (250.0, "250 ms"),
        BIG_LS: (250.0, "250 ms"),
        "first flow in a fresh home": (300.0, "300 ms"),
    }
    print(f"{'':<32} {'median':>9} {'best':>9}   goal")
    for label, times in found.items():
        median, best = statistics.median(times), min(times)
        goal, said = goals.get(label, (None, ""))
        verdict = "" if goal is None else ("ok" if median <= goal else "over")
        ratio = f"  ({median / floor:.1f}x the floor)" if label != "python -c pass" else ""
        print(f"{label:<32} {median:7.0f} ms {best:7.0f} ms   {said} {verdict}{ratio}")


if __name__ == "__main__":
    main()
