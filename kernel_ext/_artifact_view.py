"""An artifact as a notebook shows it: a MIME bundle (markdown or HTML, and plain text).

The console draws artifacts itself (``labextension``); this is what appears under the
cell that creates one, in an interactive kernel and in a deployment run's output notebook.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel_ext.store.records import ArtifactRecord

__all__ = ["mime_bundle", "safe_markdown", "table_rows"]

# A link whose target would run code or load a local file: `[x](javascript:...)`,
# `[x]: data:...` (a reference). Its target becomes "#".
_UNSAFE_TARGET = re.compile(
    r"(\]\(\s*<?|^\s*\[[^\]]*\]:\s*<?)\s*(?:javascript|vbscript|data|file)\s*:(?:[^()\s>]|\([^()]*\))*",
    re.IGNORECASE | re.MULTILINE,
)

_MAX_ROWS = 50  # under a cell; the console and `taskbook artifacts show` have them all


def table_rows(data: Any) -> tuple[list[str] | None, list[list[Any]]]:
    """A table artifact's columns (None for a list of lists) and rows, whichever of
    Prefect's three shapes it was created in."""
    if isinstance(data, dict):
        columns = list(data)
        depth = max((len(v) for v in data.values()), default=0)
        rows = [[_at(data[c], i) for c in columns] for i in range(depth)]
        return columns, rows
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = list(dict.fromkeys(k for row in data for k in row))
        return columns, [[row.get(c) for c in columns] for row in data]
    return None, [list(r) for r in data] if isinstance(data, list) else []


def _at(values: list[Any], index: int) -> Any:
    return values[index] if index < len(values) else None


def mime_bundle(record: ArtifactRecord) -> dict[str, str]:
    title = record["key"] or record["type"]
    caption = f"{title}: {record['description']}" if record["description"] else title
    kind, data = record["type"], record["data"]
    if kind == "markdown":
        text = safe_markdown(str(data))
        return {"text/markdown": f"{text}\n\n*{_md_escape(caption)}*", "text/plain": str(data)}
    if kind == "progress":
        percent = float(data or 0.0)
        bar = (
            f'<progress value="{percent:g}" max="100" style="width:20em"></progress> '
            f"{percent:g}% <small>{html.escape(caption)}</small>"
        )
        return {"text/html": bar, "text/plain": f"{caption}: {percent:g}%"}
    if kind == "image":
        url = html.escape(str(data), quote=True)
        return {
            "text/html": f'<img src="{url}" alt="{html.escape(caption)}" style="max-width:100%">',
            "text/plain": f"{caption}: {data}",
        }
    if kind == "table":
        return _table_bundle(data, caption)
    return {"text/plain": f"{caption}: {data!r}"}


def safe_markdown(text: str) -> str:
    """Markdown to show as a live output, which JupyterLab trusts (it sanitizes only
    untrusted markdown): raw HTML is shown as text, and a link to ``javascript:`` (or
    ``data:``, ``file:``) goes nowhere. Markdown's own formatting is kept."""
    return _UNSAFE_TARGET.sub(lambda m: f"{m.group(1)}#", text.replace("<", "&lt;"))


def _table_bundle(data: Any, caption: str) -> dict[str, str]:
    columns, rows = table_rows(data)
    shown = rows[:_MAX_ROWS]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns or [])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in row) + "</tr>"
        for row in shown
    )
    more = f" (first {_MAX_ROWS} of {len(rows)} rows)" if len(rows) > _MAX_ROWS else ""
    table = (
        f"<table><caption>{html.escape(caption + more)}</caption>"
        f"{f'<thead><tr>{head}</tr></thead>' if head else ''}<tbody>{body}</tbody></table>"
    )
    lines = ["\t".join(map(str, columns))] if columns else []
    lines += ["\t".join(_cell_text(v) for v in row) for row in shown]
    return {"text/html": table, "text/plain": f"{caption}{more}\n" + "\n".join(lines)}


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def _md_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "\\`*_[]<>#" else c for c in text)
