"""Plain-text tables and times for the terminal (no colour dependency)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

__all__ = ["duration", "local_time", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells)
    return "\n".join(lines)


def local_time(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.datetime.fromisoformat(iso)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"
