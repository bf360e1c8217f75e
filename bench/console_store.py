"""The console's REST reads on a store that has grown for a year.

    python bench/console_store.py                       # SQLite in a temporary home
    python bench/console_store.py --url postgresql+psycopg://postgres@127.0.0.1/bench
    python bench/console_store.py --flows 5000          # a smaller store, for a quick look

1. Fills a store through the engine itself (real ``@flow``/``@task`` calls, written by the
   batched writer): ``--flows`` flow runs of ``--tasks`` task runs each (50,000 x 20 =
   1,000,000 task runs by default), every tenth flow failing, one flow run with 5,000 log
   lines. A filled store is kept (``--home``) and reused by the next run.
2. Starts a real Jupyter server on it and times, through the REST API, what the console
   reads: the runs list, a filtered search, a run's detail, its graph and its log tail;
   p50/p95 over ``--rounds`` calls each, next to the goal (100 ms at p95).
3. Polls as an idle console page does (the Runs tab reads the runs list every second; the
   notifier its three lists every 10 s; a live run's tab what changed, and its log,
   every second; a finished run's tab every 10 s) and reports the server's CPU share,
   next to its goal (2% of a core).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _big_store import FLOWS, LOG_LINES, TASKS, default_home, environment, fill

GOAL_P95_MS = 100.0
GOAL_IDLE_CPU = 0.02
TOKEN = secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={home}",
    ]
    process = subprocess.Popen(
        command, env=environment(home, url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get(base, "/api/status")
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("The Jupyter server did not start within 60 s.")


def get(base: str, path: str) -> Any:
    request = urllib.request.Request(base + path)
    request.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def timed(base: str, path: str, rounds: int) -> tuple[float, float]:
    get(base, path)  # warm: the store opens, the first query plans
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        get(base, path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(base: str, pid: int, every: dict[str, float], seconds: float) -> float:
    """The server's share of a core while a console page reads each path at its period
    (seconds): what the sidebar's Runs tab does. The other tabs poll less often, and none
    polls while the sidebar is hidden."""
    before, started = cpu_seconds(pid), time.monotonic()
    last = dict.fromkeys(every, -1e9)
    while time.monotonic() - started < seconds:
        for path, period in every.items():
            if time.monotonic() - last[path] >= period:
                last[path] = time.monotonic()
                get(base, path)
        time.sleep(0.05)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a PostgreSQL URL (default: SQLite in --home)")
    parser.add_argument("--home", type=Path, help="where the filled store is kept")
    parser.add_argument("--flows", type=int, default=FLOWS)
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    home = args.home or default_home(args.url, args.flows)  # kept per backend and size
    home.mkdir(parents=True, exist_ok=True)
    known = fill(home, args.url, args.flows, args.tasks)
    process, base = start_server(home, args.url)
    try:
        run, chatty = known["run"], known["chatty"]
        logs = f"/taskbook/api/runs/{chatty}/logs"
        cursor = get(base, f"/taskbook/api/runs/{run}")["task_runs_cursor"]
        # As a run tab follows: from a little before the newest line it has while lines
        # may still commit late (the worst case: 1,000 lines re-read), then from it.
        behind = f"{logs}?after={max(0, known['last_log'] - 1000)}&limit=1500"
        follow = f"{logs}?after={known['last_log']}&limit=1500"
        hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        cases = {
            "runs list (50 newest)": "/taskbook/api/runs?limit=50",
            "search (flow + state)": "/taskbook/api/runs?flow=nightly-etl&state=Failed&limit=50",
            "search (part of a name)": "/taskbook/api/runs?q=ETL&top_level=true&limit=50",
            "run detail": f"/taskbook/api/runs/{run}",
            "run detail, changes only": f"/taskbook/api/runs/{run}?after={cursor}",
            "run graph": f"/taskbook/api/runs/{run}/graph",
            "run history": f"/taskbook/api/runs/{run}/history",
            "subflows of a run": f"/taskbook/api/runs?parent={run}&limit=200",
            "log tail (last 500 lines)": f"{logs}?tail=500",
            "log follow (a cursor)": follow,
            "log follow, 1,000 lines behind": behind,
            "notifier: failed lately": (
                f"/taskbook/api/runs?state=FAILED&ended_since={hour_ago}&limit=200"
            ),
            "notifier: waiting for input": "/taskbook/api/inputs",
            f"whole log ({LOG_LINES:,} lines)": logs,
        }
        backend = "PostgreSQL" if args.url else "SQLite"
        total = args.flows * args.tasks
        print(f"{backend}, {args.flows:,} flow runs, {total:,} task runs; goal p95 <= 100 ms")
        for label, path in cases.items():
            p50, p95 = timed(base, path, args.rounds)
            verdict = "ok" if p95 <= GOAL_P95_MS else "over"
            print(f"  {label:<30} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {verdict}")
        listed = cases["runs list (50 newest)"]
        crashed = cases["notifier: failed lately"].replace("FAILED", "CRASHED")
        notifier = {
            cases["notifier: failed lately"]: 10.0,
            crashed: 10.0,
            cases["notifier: waiting for input"]: 10.0,
        }
        # A live run's tab reads what changed each second (the graph only after a
        # change); a finished run's tab reads it whole every 10 s.
        live = {cases["run detail, changes only"]: 1.0, follow: 1.0}
        finished = {cases["run detail"]: 10.0, follow: 10.0}
        pages = {
            "Runs tab + notifier": {listed: 1.0, **notifier},
            "+ a live run's tab (logs)": {listed: 1.0, **notifier, **live},
            "+ a finished run's tab": {listed: 1.0, **notifier, **finished},
        }
        for label, paths in pages.items():
            share = idle_cpu(base, process.pid, paths, args.idle_seconds)
            verdict = "ok" if share <= GOAL_IDLE_CPU else "over"
            print(f"  {label:<30} {share:5.1%} of a core (goal <= 2%)   {verdict}")
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
