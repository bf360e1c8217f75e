"""A Python flow deployed as it is, without a notebook.

    taskbook deploy notebooks/etl_flow.py:daily_sales --name sales --interval 1h -p region=eu
    taskbook serve                          # the scheduler and a worker
    taskbook run sales -p days=3 --wait     # or wait for the schedule

Or serve it from here (Ctrl-C stops it): python notebooks/etl_flow.py
"""

from __future__ import annotations

from kernel_ext import flow, task, unmapped
from kernel_ext.artifacts import create_markdown_artifact, create_table_artifact


@task(retries=2, retry_delay_seconds=1)
def extract(region: str, day: int) -> dict[str, float | int | str]:
    """One day of sales (made up here; a query in real life)."""
    orders = 40 + 7 * day + len(region)
    return {"region": region, "day": day, "orders": orders, "revenue": round(orders * 12.5, 2)}


@task
def summarise(rows: list[dict[str, float | int | str]]) -> float:
    return float(sum(float(r["revenue"]) for r in rows))


@flow(name="daily-sales", log_prints=True)
def daily_sales(region: str, days: int = 7) -> float:
    """Load the last days of sales of a region and publish a report.

    Args:
        region: the sales region, e.g. eu
        days: how many days back
    """
    rows = extract.map(unmapped(region), range(1, days + 1)).result()
    total = summarise(rows)
    create_table_artifact(rows, key=f"sales-{region}", description=f"Sales of {region}")
    create_markdown_artifact(
        f"## Sales of {region}\n\n**{total:,.2f}** over {days} days.", key=f"sales-{region}-summary"
    )
    print(f"{region}: {total:,.2f} over {days} days")
    return total


if __name__ == "__main__":
    daily_sales.serve(name="sales-dev", interval=60, parameters={"region": "eu"})
