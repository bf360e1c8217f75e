"""``taskbook demo``: run a small example flow, then show what the store recorded.

The flow shows the everyday features at once: a flaky fetch that succeeds on retry, a
``.map()`` fan-out, and a cached summary that the second demo run takes from the cache.
"""

from __future__ import annotations

import contextlib
import random
import sys
from typing import Any

import click

from papermill_bridge.cli._app import cli, echo_json, json_option

__all__ = ["demo"]


def build_demo_flow() -> Any:
    from kernel_ext import flow, get_run_logger, task
    from kernel_ext.cache_policies import INPUTS, TASK_SOURCE

    attempts = {"fetch": 0}

    @task(retries=2, retry_delay_seconds=0.1)
    def fetch(source: str, count: int) -> list[str]:
        attempts["fetch"] += 1
        if attempts["fetch"] == 1:
            raise ConnectionError(f"{source} timed out (the demo fails the first attempt)")
        rng = random.Random(source)
        return [f"  reading {rng.randint(10, 99)}  " for _ in range(count)]

    @task
    def clean(record: str) -> int:
        return int(record.strip().split()[-1])

    @task(cache_policy=INPUTS + TASK_SOURCE)
    def summarize(values: list[int]) -> dict[str, float]:
        get_run_logger().info("Summarizing %d values", len(values))
        return {"n": len(values), "mean": sum(values) / len(values), "max": max(values)}

    @flow(name="demo-sensors", log_prints=True)
    def sensors(source: str = "station-7", count: int = 12) -> dict[str, float]:
        records = fetch(source, count)
        values = clean.map(records)  # futures: summarize waits for them and records the edges
        summary: dict[str, float] = summarize(values)
        print(f"Summary of {source}: {summary}")
        return summary

    return sensors


@cli.command()
@click.option("--source", default="station-7", show_default=True, help="Demo data source name.")
@click.option("--count", default=12, show_default=True, type=click.IntRange(1), help="Records.")
@json_option
def demo(source: str, count: int, as_json: bool) -> None:
    """Run an example flow (retries, map, caching), then show its run from the store."""
    from kernel_ext.store import get_store
    from papermill_bridge.cli._runs import list_runs, show_run

    sensors = build_demo_flow()
    if as_json:  # keep stdout for the JSON document alone
        with contextlib.redirect_stdout(sys.stderr):
            summary = sensors(source, count)
    else:
        summary = sensors(source, count)
    store = get_store()
    latest = store.list_flow_runs(limit=1)[0]
    if as_json:
        echo_json({"result": summary, "run": store.read_flow_run(latest["id"])})
        return
    click.echo(f"\nResult: {summary}\n")
    click.echo("$ taskbook runs ls --limit 5")
    ctx = click.get_current_context()
    ctx.invoke(list_runs, limit=5, state=None, flow_name=None, as_json=False)
    click.echo(f"\n$ taskbook runs show {latest['id'][:8]}")
    ctx.invoke(show_run, run_id=latest["id"], as_json=False)
